"""The only code that imports Google's libraries: each module implements one port."""
