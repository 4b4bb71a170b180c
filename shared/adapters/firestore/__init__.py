"""Firestore adapters: the clinic's documents (ClinicDirectory, AgendaReader), ours (one module per port),
and notices (Notifier). The layout of our documents is in `documents`; their fields in `firestore_codec`.
"""
