"""A listing that differs from the model says which field of which entry differs."""

from __future__ import annotations

from remofile.conformance.model import Entry, listing_problem
from remofile.conformance.wire import Reply
from remofile.v1 import remofile_pb2 as pb

TIME_NS = 1_700_000_000_000_000_000


def _reply(*entries: Entry) -> Reply:
    file_list = pb.FileList(
        entries=[
            pb.FileEntry(
                name=entry.name,
                is_directory=entry.is_directory,
                size=entry.size,
                modification_time_ns=TIME_NS,
            )
            for entry in entries
        ]
    )
    response = pb.Response(
        type=pb.RESPONSE_TYPE_ACCEPTED, reason=pb.REASON_FILES_LISTED, file_list=file_list
    )
    return Reply(response, None)


def test_a_size_that_differs_is_named_with_both_values() -> None:
    expected = [Entry("a.txt", False, 1), Entry("data.bin", False, 2560)]
    problem = listing_problem(
        _reply(Entry("a.txt", False, 1), Entry("data.bin", False, 2559)), expected
    )
    assert problem == "listing differs from the tree: data.bin: size 2560 expected, 2559 listed"


def test_a_field_difference_and_a_missing_entry_are_both_told() -> None:
    expected = [Entry("a", True, 0), Entry("b.txt", False, 3)]
    problem = listing_problem(_reply(Entry("a", False, 0)), expected)
    assert problem is not None
    assert "a: is_directory True expected, False listed" in problem
    assert "missing ['b.txt']" in problem
    assert "unexpected" not in problem


def test_the_order_alone_is_told_as_the_order() -> None:
    expected = [Entry("Zed", False, 0), Entry("a", False, 0)]
    problem = listing_problem(_reply(Entry("a", False, 0), Entry("Zed", False, 0)), expected)
    assert problem is not None
    assert problem.startswith("the entries are not sorted by the code points of their names")
