"""Firestore document events: the protobuf body Eventarc sends, encoded and decoded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from google.cloud.firestore import GeoPoint
from google.events.cloud.firestore_v1.types import Document, DocumentEventData, Value

from shared.adapters.document_events import (
    changed_field_paths,
    decode_document_event,
    document_path,
    encode_document_event,
)

PATH = "clinics/demo/appointments/a1"
START = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)

EVERY_TYPE = {
    "null": None,
    "yes": True,
    "no": False,
    "count": 42,
    "negative": -(2**62),
    "ratio": 0.25,
    "text": "Clínica — cita ✓",
    "empty": "",
    "start": START,
    "raw": b"\x00\xff",
    "where": GeoPoint(41.39, 2.17),
    "tags": ["a", 1, None, {"nested": True}],
    "none": [],
    "meta": {"source": "app", "deep": {"level": 2, "at": START}},
    "blank": {},
}


def test_every_value_type_survives_a_round_trip() -> None:
    change = decode_document_event(encode_document_event(PATH, None, EVERY_TYPE, "demo-clinic"))

    assert change.new == EVERY_TYPE
    assert change.new is not None
    # Types are kept, not only values that compare equal (True == 1 in Python, not in Firestore).
    assert type(change.new["yes"]) is bool
    assert type(change.new["count"]) is int
    assert type(change.new["ratio"]) is float
    assert change.new["start"].tzinfo is not None


def test_create_has_no_old_document_and_no_mask() -> None:
    updated = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    data = encode_document_event(PATH, None, {"status": "scheduled"}, "demo-clinic", update_time=updated)

    change = decode_document_event(data)

    assert change.kind == "created"
    assert change.path == PATH
    assert change.old is None
    assert change.new == {"status": "scheduled"}
    assert change.update_time == updated
    assert change.update_mask == ()
    raw = DocumentEventData.pb(DocumentEventData.deserialize(data))
    assert not raw.HasField("old_value")
    assert raw.value.name == f"projects/demo-clinic/databases/(default)/documents/{PATH}"


def test_update_carries_both_versions_and_the_changed_fields() -> None:
    old = {"status": "scheduled", "start": START, "meta": {"a": 1, "b": 2}, "gone": "x", "same": 1}
    new = {"status": "cancelled", "start": START, "meta": {"a": 1, "b": 3}, "added": True, "same": 1}

    change = decode_document_event(encode_document_event(PATH, old, new, "demo-clinic"))

    assert change.kind == "updated"
    assert change.old == old
    assert change.new == new
    assert change.update_mask == ("added", "gone", "meta.b", "status")


def test_delete_has_no_new_document() -> None:
    old = {"status": "scheduled", "patientName": "Ana"}

    change = decode_document_event(encode_document_event(PATH, old, None, "demo-clinic"))

    assert change.kind == "deleted"
    assert change.old == old
    assert change.new is None
    assert change.update_time is None
    assert change.path == PATH


def test_times_of_both_versions_are_encoded() -> None:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    before, after = created + timedelta(hours=1), created + timedelta(hours=2)
    data = encode_document_event(
        PATH, {"n": 1}, {"n": 2}, "p", create_time=created, update_time=after, old_update_time=before
    )

    raw = DocumentEventData.pb(DocumentEventData.deserialize(data))

    assert raw.value.create_time.ToDatetime(tzinfo=UTC) == created
    assert raw.value.update_time.ToDatetime(tzinfo=UTC) == after
    assert raw.old_value.update_time.ToDatetime(tzinfo=UTC) == before
    assert decode_document_event(data).update_time == after


def test_a_reference_decodes_to_the_document_path() -> None:
    reference = "projects/demo-clinic/databases/(default)/documents/clinics/demo/centers/centro-a"
    event = DocumentEventData(
        value=Document(
            name=f"projects/demo-clinic/databases/(default)/documents/{PATH}",
            fields={"center": Value(reference_value=reference)},
        )
    )

    change = decode_document_event(DocumentEventData.serialize(event))

    assert change.new == {"center": "clinics/demo/centers/centro-a"}


def test_mask_tells_numbers_and_booleans_apart() -> None:
    assert changed_field_paths({"a": 1, "b": 1.5}, {"a": True, "b": 1.5}) == ["a"]
    assert changed_field_paths({"a": 1}, {"a": 1.0}) == ["a"]


def test_mask_quotes_field_names_that_need_it() -> None:
    assert changed_field_paths({"a-b": 1}, {"a-b": 2}) == ["`a-b`"]


@pytest.mark.parametrize("body", [b"\xff\xff\xff", "text", {"value": {}}])
def test_a_body_that_is_not_a_document_event_is_refused(body: object) -> None:
    with pytest.raises(ValueError):
        decode_document_event(body)  # type: ignore[arg-type]


def test_an_event_without_documents_is_refused() -> None:
    with pytest.raises(ValueError, match="neither"):
        decode_document_event(b"")
    with pytest.raises(ValueError):
        encode_document_event(PATH, None, None, "p")


def test_document_path_strips_the_resource_prefix() -> None:
    assert document_path("projects/p/databases/(default)/documents/clinics/c/appointments/a") == (
        "clinics/c/appointments/a"
    )
    with pytest.raises(ValueError):
        document_path("clinics/c/appointments/a")
