"""The demo clinic of the local stack, as the clinic app would have written it (the documents
of the clinic app's contract, laid out as shared/adapters/firestore_codec.py reads them).

Clinic `demo` with two centres, one professional (Marina) and three users: the master `admin`, the
receptionist `pautrave` linked to Marina's agenda (the product description's example), and `marina`
herself. A second clinic, `norte` (privacy `full`), where Marina also works and is the master: the same
physiotherapist's Google account linked at two clinics, whose events must each stay their clinic's (the
console plays `demo`; the tests play both). Writing it again puts every demo document back as it is here; other documents are left alone.

    FIRESTORE_EMULATOR_HOST=127.0.0.1:8081 python -m infra.local.demo_data
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from google.cloud import firestore

from infra.local.environment import PROJECT_ID

CLINIC_ID = "demo"
MASTER_USER_ID = "admin"
PROFESSIONAL_ID = "marina"
OTHER_CLINIC_ID = "norte"

DEMO_DOCUMENTS: dict[str, dict[str, Any]] = {
    f"clinics/{CLINIC_ID}": {"name": "Clínica Demo", "privacy": "none"},
    f"clinics/{CLINIC_ID}/centers/centro-a": {"name": "Centro A", "timeZone": "Europe/Madrid"},
    f"clinics/{CLINIC_ID}/centers/centro-b": {"name": "Centro B", "timeZone": "Europe/Madrid"},
    f"clinics/{CLINIC_ID}/professionals/{PROFESSIONAL_ID}": {"name": "Marina Puig"},
    f"clinics/{CLINIC_ID}/users/{MASTER_USER_ID}": {
        "name": "Administración",
        "email": "admin@demo-clinic.test",
        "isMaster": True,
        "professionalIds": [],
    },
    f"clinics/{CLINIC_ID}/users/pautrave": {
        "name": "Pau Trave",
        "email": "pau.trave@demo-clinic.test",
        "isMaster": False,
        "professionalIds": [PROFESSIONAL_ID],
    },
    f"clinics/{CLINIC_ID}/users/marina": {
        "name": "Marina Puig",
        "email": "marina@demo-clinic.test",
        "isMaster": False,
        "professionalIds": [PROFESSIONAL_ID],
    },
    # A second clinic where the same physiotherapist works: it shows patients' full names.
    f"clinics/{OTHER_CLINIC_ID}": {"name": "Fisio Norte", "privacy": "full"},
    f"clinics/{OTHER_CLINIC_ID}/centers/centro-norte": {"name": "Centro Norte", "timeZone": "Europe/Madrid"},
    f"clinics/{OTHER_CLINIC_ID}/professionals/{PROFESSIONAL_ID}": {"name": "Marina Puig"},
    f"clinics/{OTHER_CLINIC_ID}/users/marina": {
        "name": "Marina Puig",
        "email": "marina@fisionorte.test",
        "isMaster": True,
        "professionalIds": [PROFESSIONAL_ID],
    },
}


def write_demo_data(client: firestore.Client) -> int:
    """Write every demo document (replacing its previous content) in one batch; returns how many."""
    batch = client.batch()
    for path, data in DEMO_DOCUMENTS.items():
        batch.set(client.document(path), data)
    batch.commit()
    return len(DEMO_DOCUMENTS)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--project", default=os.environ.get("GOOGLE_CLOUD_PROJECT", PROJECT_ID))
    args = parser.parse_args(argv)
    # Demo data belongs in the emulator only: never write it to a real project by accident.
    if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
        parser.error("FIRESTORE_EMULATOR_HOST must point at the Firestore emulator")
    count = write_demo_data(firestore.Client(project=args.project))
    print(f"demo clinic '{CLINIC_ID}' written: {count} documents in project {args.project}")


if __name__ == "__main__":
    main()
