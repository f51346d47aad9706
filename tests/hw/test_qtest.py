"""The qtest client against a scripted peer (QEMU 7.2 softmmu/qtest.c reply forms)."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from qrv.errors import BusError, MachineError, MachineLost
from qrv.hw import qtest
from qrv.hw.qtest import QtestClient

Peer = Callable[[socket.socket], None]


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def serve(sock: socket.socket, script: Peer) -> threading.Thread:
    thread = threading.Thread(target=script, args=(sock,), daemon=True)
    thread.start()
    return thread


def recv_line(sock: socket.socket) -> bytes:
    buf = b""
    while not buf.endswith(b"\n"):
        try:
            chunk = sock.recv(1)
        except OSError:  # the test closed the pair while the peer still waited
            break
        if not chunk:
            break
        buf += chunk
    return buf


def answer(*replies: bytes) -> Peer:
    """A peer that reads one command per reply and sends that reply verbatim."""

    def script(sock: socket.socket) -> None:
        for reply in replies:
            recv_line(sock)
            sock.sendall(reply)

    return script


def test_load_parses_16_hex_digits_and_sends_the_wire_form(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    seen: list[bytes] = []

    def script(sock: socket.socket) -> None:
        seen.append(recv_line(sock))
        sock.sendall(b"OK 0x0000000000101b36\n")

    serve(theirs, script)
    client = QtestClient(ours, timeout=2)
    assert client.load(0x30008000, 4) == 0x101B36
    assert seen == [b"readl 0x30008000\n"]


def test_irq_lines_before_a_reply_are_events_not_the_reply(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    serve(theirs, answer(b"IRQ raise 33\nIRQ lower 34\nOK 0x00000000000000ff\n"))
    client = QtestClient(ours, timeout=2)
    assert client.load(0x1000, 1) == 0xFF
    assert client.irq_levels == {33: True, 34: False}


def test_a_reply_split_across_many_segments_is_joined(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    data = bytes(range(256)) * 1024
    line = b"OK " + base64.b64encode(data) + b"\n"

    def script(sock: socket.socket) -> None:
        recv_line(sock)
        for pos in range(0, len(line), 1000):
            sock.sendall(line[pos : pos + 1000])

    serve(theirs, script)
    assert QtestClient(ours, timeout=2).b64read(0x80000000, len(data)) == data


def test_two_replies_in_one_segment_are_kept_apart(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair

    def script(sock: socket.socket) -> None:
        recv_line(sock)
        sock.sendall(b"OK\nOK 0x0000000000000007\n")
        recv_line(sock)

    serve(theirs, script)
    client = QtestClient(ours, timeout=2)
    client.store(0x80000000, 8, 7)
    assert client.load(0x80000000, 8) == 7


@pytest.mark.parametrize("reply", [b"FAIL Unknown command 'bogus'\n", b"ERR invalid argument\n"])
def test_fail_and_err_replies_are_bus_errors(
    pair: tuple[socket.socket, socket.socket], reply: bytes
) -> None:
    ours, theirs = pair
    serve(theirs, answer(reply))
    with pytest.raises(BusError, match="QEMU replied"):
        QtestClient(ours, timeout=2).command("bogus")


def test_a_short_b64read_is_an_error(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    serve(theirs, answer(b"OK " + base64.b64encode(b"abc") + b"\n"))
    with pytest.raises(BusError, match="expected 4 bytes, got 3"):
        QtestClient(ours, timeout=2).b64read(0x80000000, 4)


def test_eof_is_a_machine_error_with_the_callers_description(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    theirs.close()
    client = QtestClient(ours, timeout=2, describe_loss=lambda: "QEMU exited with status -9")
    with pytest.raises(MachineError, match="QEMU exited with status -9"):
        client.load(0, 4)
    with pytest.raises(MachineError, match="status -9"):
        client.load(0, 4)


def test_silence_times_out_and_breaks_the_client(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, _theirs = pair
    client = QtestClient(ours, timeout=0.2)
    start = time.monotonic()
    with pytest.raises(MachineError, match=r"did not answer within 0\.2 s"):
        client.load(0, 4)
    assert time.monotonic() - start < 2
    assert client.broken is not None
    start = time.monotonic()
    with pytest.raises(MachineError, match="did not answer"):
        client.load(0, 4)
    assert time.monotonic() - start < 0.1, "a broken client must fail at once"


def test_close_makes_later_commands_fail(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, _theirs = pair
    client = QtestClient(ours, timeout=2)
    client.close("the QEMU machine is closed")
    with pytest.raises(MachineError, match="the QEMU machine is closed"):
        client.store(0, 4, 0)


def test_concurrent_callers_each_get_their_own_reply(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """The peer answers each `readq ADDR` with ADDR: interleaved exchanges would mismatch."""
    ours, theirs = pair
    count = 200

    def script(sock: socket.socket) -> None:
        for _ in range(4 * count):
            addr = int(recv_line(sock).split()[1], 16)
            sock.sendall(f"OK 0x{addr:016x}\n".encode())

    serve(theirs, script)
    client = QtestClient(ours, timeout=5)
    bad: list[tuple[int, int]] = []

    def worker(base: int) -> None:
        for i in range(count):
            got = client.load(base + i, 8)
            if got != base + i:
                bad.append((base + i, got))

    threads = [threading.Thread(target=worker, args=(k << 32,)) for k in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not bad


def test_wire_forms_of_writes(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    seen: list[bytes] = []

    def script(sock: socket.socket) -> None:
        for _ in range(3):
            seen.append(recv_line(sock))
            sock.sendall(b"OK\n")

    thread = serve(theirs, script)
    client = QtestClient(ours, timeout=2)
    client.store(0x40000014, 4, 0x460001)
    client.b64write(0x80000000, b"\x00\x01\x02")
    client.memset(0x80001000, 16, 0x1AB)
    thread.join(2)
    assert seen == [
        b"writel 0x40000014 0x460001\n",
        b"b64write 0x80000000 0x3 AAEC\n",
        b"memset 0x80001000 0x10 0xab\n",
    ]


def test_a_command_longer_than_the_socket_buffer_goes_out_whole(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """A command is one plain write of the non-blocking socket; a line the socket buffer
    cannot take at once (a 4 MiB b64write) goes out in full after it, in order."""
    ours, theirs = pair
    data = bytes(range(256)) * (16 * 1024)
    seen: list[bytes] = []

    def script(sock: socket.socket) -> None:
        time.sleep(0.05)  # the client's first write fills the buffer and has to wait
        buf = b""
        while not buf.endswith(b"\n"):
            buf += sock.recv(1 << 16)
        seen.append(buf)
        sock.sendall(b"OK\n")

    thread = serve(theirs, script)
    QtestClient(ours, timeout=10).b64write(0x80000000, data)
    thread.join(10)
    assert seen == [
        f"b64write 0x80000000 {len(data):#x} ".encode() + base64.b64encode(data) + b"\n"
    ]


def test_pump_reads_event_lines_sent_between_commands(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, peer = pair
    client = QtestClient(ours, 2.0)
    seen: list[tuple[int, bool]] = []
    client.on_irq = lambda line, level: seen.append((line, level))
    assert client.pump()  # nothing sent: nothing happens, nothing blocks
    peer.sendall(b"IRQ raise 34\nIRQ lower 34\nIRQ rai")
    deadline = time.monotonic() + 2.0
    while len(seen) < 2 and time.monotonic() < deadline:
        client.pump()
    assert seen == [(34, True), (34, False)]
    serve(peer, lambda s: (recv_line(s), s.sendall(b"se 35\nOK\n")))  # the rest, then a reply
    client.command("writel 0x0 0x0")
    assert seen == [(34, True), (34, False), (35, True)]
    assert client.irq_levels == {34: False, 35: True}


def test_pump_reports_a_closed_connection(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, peer = pair
    client = QtestClient(ours, 2.0, lambda: "QEMU went away")
    peer.close()
    assert not client.pump()
    assert client.broken == "QEMU went away"


# -- posted stores -------------------------------------------------------------------------


def test_a_posted_store_does_not_wait_and_the_next_command_takes_its_reply_first(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    client = QtestClient(ours, timeout=2)
    client.post_store(0x40001000, 4, 3)  # nobody answers yet: must return at once
    client.post_store(0x40001004, 4, 1)
    seen = [recv_line(theirs), recv_line(theirs)]
    assert seen == [b"writel 0x40001000 0x3\n", b"writel 0x40001004 0x1\n"]
    serve(theirs, lambda s: (recv_line(s), s.sendall(b"OK\nIRQ lower 34\nOK\nOK 0x2a\n")))
    assert client.load(0x4000001C, 4) == 0x2A
    assert client.irq_levels == {34: False}


def test_a_failed_posted_store_is_raised_by_the_next_command_only(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    serve(theirs, answer(b"FAIL bad\nOK 0x1\n", b"OK 0x2\n"))
    client = QtestClient(ours, timeout=2)
    client.post_store(0x40000000, 4, 0)
    with pytest.raises(BusError, match=r"'writel 0x40000000 0x0' \(posted\): QEMU replied 'FAIL"):
        client.load(0x1000, 4)
    assert client.load(0x1000, 4) == 2  # the pairing is intact
    assert client.broken is None


def test_flush_reads_the_owed_replies_and_the_events_before_them(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    client = QtestClient(ours, timeout=2)
    client.flush()  # nothing owed: no exchange at all
    serve(theirs, lambda s: (recv_line(s), s.sendall(b"IRQ lower 34\nOK\n")))
    client.post_store(0x40001004, 4, 1)
    client.flush()
    assert client.irq_levels == {34: False}
    serve(theirs, answer(b"OK 0x7\n"))
    assert client.load(0x0, 4) == 7


def test_posted_replies_owed_are_bounded(pair: tuple[socket.socket, socket.socket]) -> None:
    """Past MAX_POSTED owed replies a store waits for them, so QEMU's replies never
    fill the socket while qrv only sends."""
    ours, theirs = pair
    answered: list[int] = []

    def script(sock: socket.socket) -> None:
        for _ in range(qtest.MAX_POSTED):
            recv_line(sock)
        time.sleep(0.2)
        answered.append(1)
        sock.sendall(b"OK\n" * qtest.MAX_POSTED)

    serve(theirs, script)
    client = QtestClient(ours, timeout=2)
    for i in range(qtest.MAX_POSTED):
        client.post_store(0x40000000 + 4 * i, 4, i)
    assert not answered
    client.post_store(0x40000000, 4, 0)  # the bound: waits for the 64 replies
    assert answered


def test_a_posted_store_to_a_dead_peer_is_machine_lost(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    theirs.close()
    client = QtestClient(ours, timeout=2, describe_loss=lambda: "QEMU exited with status -9")
    with pytest.raises(MachineLost, match="status -9"):
        client.post_store(0x40001000, 4, 1)
        client.flush()  # the send may still succeed into the buffer; the reply never comes


# -- event lines while idle ------------------------------------------------------------------


def test_an_event_read_along_with_a_reply_is_handled_at_once(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """An IRQ line QEMU sent right after a reply, in the same segment, is handled when
    that exchange ends, not left buffered until more bytes come."""
    ours, theirs = pair
    serve(theirs, answer(b"OK 0x1\nIRQ raise 34\n"))
    client = QtestClient(ours, timeout=2)
    seen: list[tuple[int, bool]] = []
    client.on_irq = lambda line, level: seen.append((line, level))
    assert client.load(0x0, 4) == 1
    assert seen == [(34, True)]


def test_wait_events_blocks_until_a_line_comes(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    client = QtestClient(ours, timeout=2)
    seen: list[tuple[int, bool]] = []
    client.on_irq = lambda line, level: seen.append((line, level))
    start = time.monotonic()
    assert client.wait_events(0.1)  # nothing: returns after the timeout
    assert time.monotonic() - start >= 0.09 and not seen
    threading.Timer(0.05, lambda: theirs.sendall(b"IRQ raise 34\n")).start()
    deadline = time.monotonic() + 2
    while not seen and time.monotonic() < deadline:
        client.wait_events(1.0)
    assert seen == [(34, True)]
    theirs.close()
    assert not client.wait_events(1.0)
    assert client.broken is not None


def test_when_settled_waits_for_the_stores_posted_so_far(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    client = QtestClient(ours, timeout=2)
    calls: list[str] = []
    assert not client.when_settled(lambda: calls.append("now"))  # nothing owed
    client.post_store(0x40001000, 4, 1)
    assert client.when_settled(lambda: calls.append("first"))
    client.post_store(0x40001004, 4, 1)
    assert client.when_settled(lambda: calls.append("second"))
    for _ in range(2):
        recv_line(theirs)
    theirs.sendall(b"OK\n")
    deadline = time.monotonic() + 2
    while not calls and time.monotonic() < deadline:
        client.wait_events(0.1)
    assert calls == ["first"]
    theirs.sendall(b"OK\n")
    client.flush()
    assert calls == ["first", "second"]


def test_round_trips_and_posted_stores_are_counted(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    serve(theirs, answer(b"OK\nOK\nOK 0x1\n", b"OK\n"))
    client = QtestClient(ours, timeout=2)
    client.post_store(0x40001000, 4, 1)
    client.post_store(0x40001004, 4, 1)
    assert (client.round_trips, client.posted) == (0, 2)
    client.load(0x0, 4)  # one round trip, which also takes the two replies owed
    client.flush()  # nothing owed: no round trip
    client.post_store(0x40001000, 4, 2)
    client.flush()
    assert (client.round_trips, client.posted) == (2, 3)
