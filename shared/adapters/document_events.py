"""Firestore document events, as Eventarc delivers them for `google.cloud.firestore.document.v1.*`.

Eventarc sends the change as a binary-mode CloudEvent whose body is a protobuf
`google.events.cloud.firestore.v1.DocumentEventData` (content type `application/protobuf`): `value` is
the document after the write (absent on delete), `old_value` the document before it (absent on
create), and `update_mask` the changed field paths (updates only).

`decode_document_event` turns that body into a `DocumentChange` of plain Python values, and
`appointment_change` a change of `clinics/{clinicId}/appointments/{apptId}` into the domain's
`AppointmentChange`; `encode_document_event` builds the same body, for the local bridge and for tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from google.cloud.firestore_v1 import _helpers
from google.cloud.firestore_v1.field_path import FieldPath
from google.cloud.firestore_v1.types import Document as FirestoreDocument
from google.events.cloud.firestore_v1.types import Document, DocumentEventData, DocumentMask
from google.protobuf.message import DecodeError

from shared.adapters import firestore_codec as codec
from shared.domain.clinic import AppointmentChange

DEFAULT_DATABASE = "(default)"
_DOCUMENT_NAME = re.compile(r"^projects/[^/]+/databases/[^/]+/documents/(?P<path>.+)$")


@dataclass(frozen=True)
class DocumentChange:
    """One write of one document: its path and its data before and after (None when absent).

    Values are plain Python: str, int, float, bool, None, aware datetimes (UTC), dicts for maps, lists
    for arrays, bytes, `google.cloud.firestore.GeoPoint` for geo points, and the relative document path
    (a str) for references.
    """

    path: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    update_time: datetime | None = None
    update_mask: tuple[str, ...] = field(default=())

    @property
    def kind(self) -> Literal["created", "updated", "deleted"]:
        """What the write did to the document."""
        if self.old is None:
            return "created"
        if self.new is None:
            return "deleted"
        return "updated"


def decode_document_event(data: bytes) -> DocumentChange:
    """Parse the protobuf body of a Firestore CloudEvent; ValueError when it is not one."""
    if not isinstance(data, bytes | bytearray):
        raise ValueError(f"a Firestore event body is protobuf bytes, not {type(data).__name__}")
    try:
        event = DocumentEventData.pb(DocumentEventData.deserialize(bytes(data)))
    except DecodeError as exc:
        raise ValueError(f"not a DocumentEventData protobuf: {exc}") from None
    new = event.value if event.HasField("value") else None
    old = event.old_value if event.HasField("old_value") else None
    document = new if new is not None else old
    if document is None:
        raise ValueError("the event carries neither the old nor the new document")
    update_time = new.update_time if new is not None and new.HasField("update_time") else None
    return DocumentChange(
        path=document_path(document.name),
        old=_plain_fields(old.fields) if old is not None else None,
        new=_plain_fields(new.fields) if new is not None else None,
        update_time=_to_datetime(update_time) if update_time is not None else None,
        update_mask=tuple(event.update_mask.field_paths),
    )


def appointment_change(change: DocumentChange) -> AppointmentChange | None:
    """The write of an appointment this change is, or None when the document is not an appointment."""
    parts = change.path.split("/")
    if len(parts) != 4 or parts[0] != "clinics" or parts[2] != "appointments":
        return None
    return codec.appointment_change(parts[1], parts[3], change.old, change.new, change.update_time)


def encode_document_event(
    path: str,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    project: str,
    *,
    database: str = DEFAULT_DATABASE,
    create_time: datetime | None = None,
    update_time: datetime | None = None,
    old_update_time: datetime | None = None,
    update_mask: list[str] | None = None,
) -> bytes:
    """The protobuf DocumentEventData body Eventarc sends for a write of `path` from `old` to `new`.

    Times default to now; on an update the mask defaults to the field paths whose values differ.
    """
    if old is None and new is None:
        raise ValueError("a document event needs the old or the new document")
    now = datetime.now(UTC)
    create_time = create_time or now
    name = f"projects/{project}/databases/{database}/documents/{path}"
    event = DocumentEventData()
    if new is not None:
        event.value = _document(name, new, create_time, update_time or now)
    if old is not None:
        event.old_value = _document(name, old, create_time, old_update_time or create_time)
    if old is not None and new is not None:
        paths = changed_field_paths(old, new) if update_mask is None else update_mask
        event.update_mask = DocumentMask(field_paths=paths)
    return DocumentEventData.serialize(event)


def changed_field_paths(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Field paths (Firestore syntax, sorted) whose values differ between two versions of a document.

    Maps are compared field by field, so a change deep in a map names the nested field.
    """
    return sorted(FieldPath(*parts).to_api_repr() for parts in _changed(old, new, ()))


def document_path(name: str) -> str:
    """`clinics/c/appointments/a` from `projects/p/databases/(default)/documents/clinics/c/appointments/a`."""
    match = _DOCUMENT_NAME.match(name)
    if match is None:
        raise ValueError(f"not a Firestore document name: {name!r}")
    return match["path"]


def _changed(
    old: Mapping[str, Any], new: Mapping[str, Any], prefix: tuple[str, ...]
) -> Iterator[tuple[str, ...]]:
    for key in old.keys() | new.keys():
        parts = (*prefix, key)
        if key not in old or key not in new:
            yield parts
        elif isinstance(old[key], Mapping) and isinstance(new[key], Mapping):
            yield from _changed(old[key], new[key], parts)
        # Compare encoded values: Firestore tells 1, 1.0 and True apart, Python's == does not.
        elif _helpers.encode_value(old[key]) != _helpers.encode_value(new[key]):
            yield parts


def _document(name: str, data: Mapping[str, Any], create_time: datetime, update_time: datetime) -> Document:
    # Firestore's own encoder gives google.firestore.v1 Values; the google.events Document has the same
    # wire format, so the encoded document is carried across as bytes.
    encoded = FirestoreDocument(
        name=name, fields=_helpers.encode_dict(data), create_time=create_time, update_time=update_time
    )
    return Document.deserialize(FirestoreDocument.serialize(encoded))


def _plain_fields(fields: Any) -> dict[str, Any]:
    return {key: _plain(value) for key, value in fields.items()}


def _plain(value: Any) -> Any:
    # Firestore's decoder (`_helpers.decode_value`) needs a live client to turn a reference into a
    # DocumentReference; the trigger wants plain data, so references become paths here.
    kind = value.WhichOneof("value_type")
    if kind is None or kind == "null_value":
        return None
    if kind == "timestamp_value":
        return _to_datetime(value.timestamp_value)
    if kind == "map_value":
        return _plain_fields(value.map_value.fields)
    if kind == "array_value":
        return [_plain(item) for item in value.array_value.values]
    if kind == "reference_value":
        return document_path(value.reference_value)
    if kind == "geo_point_value":
        return _helpers.GeoPoint(value.geo_point_value.latitude, value.geo_point_value.longitude)
    return getattr(value, kind)  # boolean, integer, double, string, bytes


def _to_datetime(timestamp: Any) -> datetime:
    return timestamp.ToDatetime(tzinfo=UTC)
