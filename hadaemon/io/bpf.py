"""bcc loader for ``bpf/vrrp_filter.bpf.c``: compile, attach, fill maps, read maps and events.

The program (see its header comment and ``bpf/README.md``) drops in the kernel what can never
be a valid advert for this router, counts each reason per CPU, stamps what passes with
``bpf_ktime_get_ns()`` (CLOCK_MONOTONIC) in ``last_seen`` and emits a ring-buffer record.

Attach policy, per interface (:meth:`VrrpFilter.attach`):

- XDP in generic (skb) mode. Attaching replaces a program that is already there *if it is
  ours* (same program name), so a process respawned after ``kill -9`` replaces rather than
  stacks. A foreign XDP program is never replaced: then, or when XDP cannot attach, tc.
- tc clsact ingress, one ``bpf`` filter at a fixed priority/handle (``TC_PRIO``/``TC_HANDLE``)
  installed with *replace*, so again a respawn replaces the stale filter.
- Attaching one hook removes a stale copy of ours from the other hook.
- :meth:`VrrpFilter.close` detaches everything this object attached (and the clsact qdisc if
  it created it), so ``bpftool prog`` and ``ip link`` show nothing of ours after a clean stop.

Knobs go in through ``cflags`` (``-DVRRP_ENFORCE=0`` counts without dropping,
``-DVRRP_RINGBUF_PAGES=...``) and through the ``vrid_bitmap`` map, never by editing the text.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("hadaemon.bpf")

#: names of the per-CPU counters, index = ``enum vrrp_counter`` in ``vrrp_filter.h``
COUNTER_NAMES = (
    "pass",
    "drop_ttl",
    "drop_version",
    "drop_type",
    "drop_vrid",
    "drop_truncated",
    "pass_unfiltered",
    "pass_fragment",
    "ringbuf_full",
)

XDP_PROG_NAME = "xdp_vrrp"
TC_PROG_NAME = "tc_vrrp"
HOOK_XDP = 1
HOOK_TC = 2
#: tc filter priority and handle used for our ingress filter (fixed so a respawn replaces it)
TC_PRIO = 0x4856
TC_HANDLE = 0x4856
TC_PARENT_INGRESS = 0xFFFFFFF2  # clsact ingress, "ffff:fff2"

XDP_FLAGS_SKB_MODE = 1 << 1

#: XDP / tc return codes (uapi linux/bpf.h, linux/pkt_cls.h)
XDP_DROP = 1
XDP_PASS = 2
TC_ACT_OK = 0
TC_ACT_SHOT = 2


class BpfUnavailable(Exception):
    """The eBPF path cannot be used here (no bcc, no headers, no permission, verifier refusal).

    The message says why; callers fall back to the classic path and log it.
    """


def bpf_dir() -> Path:
    """Directory holding ``vrrp_filter.bpf.c`` and ``vrrp_filter.h``.

    ``HADAEMON_BPF_DIR`` overrides; else ``bpf/`` beside the package (a source checkout), else
    ``<prefix>/share/hadaemon/bpf`` (an installed copy).
    """
    env = os.environ.get("HADAEMON_BPF_DIR")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[2] / "bpf"
    for cand in (
        checkout,
        Path(sys.prefix) / "share" / "hadaemon" / "bpf",
        Path("/usr/share/hadaemon/bpf"),
    ):
        if (cand / "vrrp_filter.bpf.c").exists():
            return cand
    return checkout


def source_path() -> Path:
    """Path of the BPF C source."""
    return bpf_dir() / "vrrp_filter.bpf.c"


def build_cflags(*, enforce: bool = True, ringbuf_pages: int = 16) -> list[str]:
    """The ``cflags`` given to bcc: include path and the ``-D`` knobs."""
    if ringbuf_pages <= 0 or ringbuf_pages & (ringbuf_pages - 1):
        raise ValueError(f"ringbuf_pages must be a power of two, not {ringbuf_pages}")
    return [
        f"-I{bpf_dir()}",
        f"-DVRRP_ENFORCE={1 if enforce else 0}",
        f"-DVRRP_RINGBUF_PAGES={ringbuf_pages}",
    ]


def dump_source(*, enforce: bool = True, ringbuf_pages: int = 16) -> str:
    """The program exactly as bcc compiles it (``hadaemon --dump-bpf``): cflags, header, C."""
    d = bpf_dir()
    try:
        header = (d / "vrrp_filter.h").read_text()
        body = source_path().read_text()
    except OSError as exc:
        return f"// cannot read the eBPF source in {d}: {exc}"
    flags = " ".join(build_cflags(enforce=enforce, ringbuf_pages=ringbuf_pages))
    return (
        f"// bcc cflags: {flags}\n// ---- {d / 'vrrp_filter.h'}\n{header}\n"
        f"// ---- {source_path()}\n{body}"
    )


@dataclass(frozen=True, slots=True)
class Seen:
    """A ``last_seen`` entry: the latest valid advert the kernel saw for one key."""

    ktime_ns: int
    """CLOCK_MONOTONIC arrival time (``bpf_ktime_get_ns()``), comparable to ``monotonic_ns()``."""
    count: int
    priority: int
    version: int
    adver_int_cs: int
    src: str
    hook: int


@dataclass(frozen=True, slots=True)
class Event:
    """A ring-buffer record: one valid advert as the hook saw it."""

    ktime_ns: int
    ifindex: int
    vlan: int
    family: int
    vrid: int
    priority: int
    version: int
    ttl: int
    adver_int_cs: int
    src: str
    hook: int


def _addr(family: int, raw: Any) -> str:
    b = bytes(raw)
    return socket.inet_ntop(family, b[:4] if family == socket.AF_INET else b[:16])


def vrid_bits(vrids: Iterable[int]) -> list[int]:
    """The four 64-bit words of the VRID bitmap (bit v <=> VRID v)."""
    words = [0, 0, 0, 0]
    for v in vrids:
        if not 1 <= v <= 255:
            raise ValueError(f"VRID {v} out of range 1..255")
        words[v >> 6] |= 1 << (v & 63)
    return words


# -- libbpf through libbcc (no python binding in bcc 0.26) ------------------------------------
class _TestRunOpts(ctypes.Structure):
    """libbpf ``struct bpf_test_run_opts``."""

    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("data_in", ctypes.c_void_p),
        ("data_out", ctypes.c_void_p),
        ("data_size_in", ctypes.c_uint32),
        ("data_size_out", ctypes.c_uint32),
        ("ctx_in", ctypes.c_void_p),
        ("ctx_out", ctypes.c_void_p),
        ("ctx_size_in", ctypes.c_uint32),
        ("ctx_size_out", ctypes.c_uint32),
        ("retval", ctypes.c_uint32),
        ("repeat", ctypes.c_int),
        ("duration", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("cpu", ctypes.c_uint32),
        ("batch_size", ctypes.c_uint32),
    ]


def _libbpf() -> Any:
    from bcc import libbcc

    lib = libbcc.lib
    lib.bpf_prog_test_run_opts.argtypes = [ctypes.c_int, ctypes.POINTER(_TestRunOpts)]
    lib.bpf_prog_test_run_opts.restype = ctypes.c_int
    lib.bpf_xdp_query_id.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_uint32)]
    lib.bpf_xdp_query_id.restype = ctypes.c_int
    lib.bpf_prog_get_fd_by_id.argtypes = [ctypes.c_uint32]
    lib.bpf_prog_get_fd_by_id.restype = ctypes.c_int
    lib.bpf_obj_get_info_by_fd.argtypes = [
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_uint32),
    ]
    lib.bpf_obj_get_info_by_fd.restype = ctypes.c_int
    return lib


def _prog_info(fd: int) -> tuple[int, str]:
    """(id, name) of a loaded program from its fd (``struct bpf_prog_info``: id @4, name @64)."""
    lib = _libbpf()
    buf = ctypes.create_string_buffer(256)
    n = ctypes.c_uint32(80)
    if lib.bpf_obj_get_info_by_fd(fd, buf, ctypes.byref(n)) != 0:
        return 0, ""
    raw = buf.raw
    prog_id = int.from_bytes(raw[4:8], "little")
    name = raw[64:80].split(b"\0", 1)[0].decode(errors="replace")
    return prog_id, name


def _prog_name_by_id(prog_id: int) -> str:
    lib = _libbpf()
    fd = lib.bpf_prog_get_fd_by_id(prog_id)
    if fd < 0:
        return ""
    try:
        return _prog_info(fd)[1]
    finally:
        os.close(fd)


def xdp_prog_id(ifindex: int) -> int:
    """Id of the generic-mode XDP program on ``ifindex`` (0 = none)."""
    lib = _libbpf()
    out = ctypes.c_uint32(0)
    if lib.bpf_xdp_query_id(ifindex, XDP_FLAGS_SKB_MODE, ctypes.byref(out)) != 0:
        return 0
    return int(out.value)


def prog_test_run(fd: int, data: bytes, *, repeat: int = 1) -> tuple[int, bytes]:
    """Run a loaded program on ``data`` with ``BPF_PROG_TEST_RUN``; returns (retval, data out).

    The kernel runs it as if received on the loopback device of the calling namespace, so
    ``ingress_ifindex``/``skb->ifindex`` is 1.
    """
    lib = _libbpf()
    inbuf = ctypes.create_string_buffer(data, len(data))
    outbuf = ctypes.create_string_buffer(len(data) + 256)
    opts = _TestRunOpts()
    opts.sz = ctypes.sizeof(_TestRunOpts)
    opts.data_in = ctypes.cast(inbuf, ctypes.c_void_p)
    opts.data_size_in = len(data)
    opts.data_out = ctypes.cast(outbuf, ctypes.c_void_p)
    opts.data_size_out = len(outbuf)
    opts.repeat = repeat
    rc = lib.bpf_prog_test_run_opts(fd, ctypes.byref(opts))
    if rc != 0:
        err = -rc if rc < 0 else ctypes.get_errno()
        raise OSError(err, f"BPF_PROG_TEST_RUN failed: {os.strerror(err)}")
    return int(opts.retval), outbuf.raw[: opts.data_size_out]


def _outside_event_loop(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` here, or in a short-lived thread if this thread runs an event loop.

    pyroute2's synchronous ``IPRoute`` drives its own asyncio loop and refuses to run inside a
    running one (the VRRP worker's); tc changes are rare (attach, detach), so a thread is fine.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn(*args)
    result: list[Any] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(fn(*args))
        except BaseException as exc:
            error.append(exc)

    th = threading.Thread(target=run, name="hadaemon-bpf-netlink")
    th.start()
    th.join()
    if error:
        raise error[0]
    return result[0]


# -- the loaded program ---------------------------------------------------------------------
@dataclass
class _Attachment:
    ifname: str
    ifindex: int
    hook: str  # "xdp" | "tc"
    created_clsact: bool = False


def release_compiler_memory() -> bool:
    """Give back to the OS the heap that bcc's clang/LLVM compile freed but glibc kept.

    Compiling the filter leaves ~85 MB of freed anonymous memory in the process (measured:
    RssAnon 113 MB after the load, 29 MB after ``malloc_trim``); the VRRP worker lives for months,
    so it is returned at once. True when glibc's ``malloc_trim`` ran.
    """
    try:
        libc = ctypes.CDLL(None)
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        return False
    return True


class VrrpFilter:
    """One compiled copy of the VRRP filter: its two entry points, maps and attachments.

    Construction compiles and loads (0.3–0.7 s here; run it in a thread). Raises
    :class:`BpfUnavailable` with a clear reason when bcc, the headers or the kernel refuse.
    """

    def __init__(self, *, enforce: bool = True, ringbuf_pages: int = 16) -> None:
        try:
            from bcc import BPF
        except Exception as exc:  # ImportError, or bcc's own errors on a broken install
            raise BpfUnavailable(f"bcc cannot be imported: {exc}") from None
        self._BPF = BPF
        src = source_path()
        if not src.exists():
            raise BpfUnavailable(f"eBPF source not found: {src}")
        try:
            self.bpf = BPF(
                src_file=str(src).encode(),
                cflags=build_cflags(enforce=enforce, ringbuf_pages=ringbuf_pages),
            )
            self.xdp_fn = self.bpf.load_func(XDP_PROG_NAME.encode(), BPF.XDP)
            self.tc_fn = self.bpf.load_func(TC_PROG_NAME.encode(), BPF.SCHED_CLS)
        except Exception as exc:
            raise BpfUnavailable(f"eBPF program did not compile/load: {exc}") from None
        self.xdp_prog_id = _prog_info(self.xdp_fn.fd)[0]
        self.tc_prog_id = _prog_info(self.tc_fn.fd)[0]
        self._bitmap = self.bpf[b"vrid_bitmap"]
        self._last_seen = self.bpf[b"last_seen"]
        self._counters = self.bpf[b"counters"]
        self._attached: dict[int, _Attachment] = {}
        self._events_open = False
        self._closed = False

    # -- maps ----------------------------------------------------------------------------------
    def set_vrids(self, ifindex: int, family: int, vrids: Iterable[int], *, vlan: int = 0) -> None:
        """Declare the VRIDs configured on (interface, family[, VLAN]); replaces the old set.

        An empty set still installs a bitmap: then every advert there is dropped as foreign.
        """
        key = self._bitmap.Key(ifindex=ifindex, vlan=vlan, family=family)
        leaf = self._bitmap.Leaf()
        for i, w in enumerate(vrid_bits(vrids)):
            leaf.bits[i] = w
        self._bitmap[key] = leaf

    def clear_vrids(self, ifindex: int, family: int, *, vlan: int = 0) -> None:
        """Forget the bitmap of (interface, family): adverts there then pass unfiltered."""
        key = self._bitmap.Key(ifindex=ifindex, vlan=vlan, family=family)
        with contextlib.suppress(KeyError):
            del self._bitmap[key]

    def vrids(self) -> dict[tuple[int, int, int], frozenset[int]]:
        """The bitmap map as {(ifindex, vlan, family): VRIDs}."""
        out: dict[tuple[int, int, int], frozenset[int]] = {}
        for k, v in self._bitmap.items():
            ids = {i * 64 + b for i in range(4) for b in range(64) if (v.bits[i] >> b) & 1}
            out[(k.ifindex, k.vlan, k.family)] = frozenset(ids)
        return out

    def counters(self) -> dict[str, int]:
        """Per-reason totals summed over CPUs."""
        out: dict[str, int] = {}
        for i, name in enumerate(COUNTER_NAMES):
            vals = self._counters[self._counters.Key(i)]
            out[name] = int(sum(vals))
        return out

    def reset_counters(self) -> None:
        """Zero the per-CPU counters (tests)."""
        self._counters.clear()

    def last_seen(self, ifindex: int, family: int, vrid: int, *, vlan: int = 0) -> Seen | None:
        """The kernel's latest valid advert for (interface, family, VRID), or None."""
        key = self._last_seen.Key(ifindex=ifindex, vlan=vlan, family=family, vrid=vrid)
        try:
            v = self._last_seen[key]
        except KeyError:
            return None
        return self._seen(family, v)

    def last_seen_all(self) -> dict[tuple[int, int, int, int], Seen]:
        """Every ``last_seen`` entry as {(ifindex, vlan, family, vrid): Seen}."""
        return {
            (k.ifindex, k.vlan, k.family, k.vrid): self._seen(k.family, v)
            for k, v in self._last_seen.items()
        }

    def clear_last_seen(self) -> None:
        """Empty ``last_seen`` (tests, and on reload of a router)."""
        self._last_seen.clear()

    def forget_ifindex(self, ifindex: int) -> None:
        """Drop every ``vrid_bitmap`` and ``last_seen`` entry of ``ifindex`` (all VLANs): the
        interface is gone (an ifindex is never reused while the namespace lives)."""
        for k in [k for k in self._bitmap if k.ifindex == ifindex]:
            with contextlib.suppress(KeyError):
                del self._bitmap[k]
        for k in [k for k in self._last_seen if k.ifindex == ifindex]:
            with contextlib.suppress(KeyError):
                del self._last_seen[k]

    @staticmethod
    def _seen(family: int, v: Any) -> Seen:
        return Seen(
            ktime_ns=int(v.ktime_ns),
            count=int(v.count),
            priority=int(v.priority),
            version=int(v.version),
            adver_int_cs=int(v.adver_int_cs),
            src=_addr(family, v.src),
            hook=int(v.hook),
        )

    # -- ring buffer -------------------------------------------------------------------------
    def open_events(self, callback: Callable[[Event], None]) -> None:
        """Deliver ring-buffer records to ``callback`` from :meth:`consume_events`/:meth:`poll`."""
        table = self.bpf[b"events"]

        def _cb(_ctx: Any, data: Any, _size: int) -> int:
            e = table.event(data)
            callback(
                Event(
                    ktime_ns=int(e.ktime_ns),
                    ifindex=int(e.ifindex),
                    vlan=int(e.vlan),
                    family=int(e.family),
                    vrid=int(e.vrid),
                    priority=int(e.priority),
                    version=int(e.version),
                    ttl=int(e.ttl),
                    adver_int_cs=int(e.adver_int_cs),
                    src=_addr(int(e.family), e.src),
                    hook=int(e.hook),
                )
            )
            return 0

        table.open_ring_buffer(_cb)
        self._events_open = True

    def consume_events(self) -> None:
        """Hand every pending ring-buffer record to the callback; never blocks."""
        if self._events_open:
            self.bpf.ring_buffer_consume()

    def poll_events(self, timeout_ms: int) -> None:
        """Wait up to ``timeout_ms`` for records, then deliver them."""
        if self._events_open:
            self.bpf.ring_buffer_poll(timeout_ms)

    # -- test run ----------------------------------------------------------------------------
    def test_run(self, hook: str, packet: bytes) -> int:
        """Run the ``"xdp"`` or ``"tc"`` entry point on ``packet`` (BPF_PROG_TEST_RUN)."""
        fn = self.xdp_fn if hook == "xdp" else self.tc_fn
        return prog_test_run(fn.fd, packet)[0]

    # -- attach / detach -----------------------------------------------------------------------
    def attach(self, ifname: str, mode: str = "auto") -> str:
        """Attach to ``ifname``: ``mode`` "auto" (XDP generic, else tc), "xdp" or "tc".

        Returns the hook used. Raises :class:`BpfUnavailable` if neither hook attaches.
        """
        try:
            ifindex = socket.if_nametoindex(ifname)
        except OSError:
            raise BpfUnavailable(f"interface {ifname!r} not found") from None
        if ifindex in self._attached:
            return self._attached[ifindex].hook
        errors: list[str] = []
        if mode in ("auto", "xdp"):
            try:
                self._attach_xdp(ifname, ifindex)
                if self._remove_stale_tc(ifindex):
                    # a predecessor's filter: its clsact qdisc was most likely its own too
                    self._del_clsact_if_empty(ifindex)
                self._attached[ifindex] = _Attachment(ifname, ifindex, "xdp")
                log.info("eBPF VRRP filter attached to %s (XDP generic)", ifname)
                return "xdp"
            except (OSError, BpfUnavailable) as exc:
                errors.append(f"XDP: {exc}")
                if mode == "xdp":
                    raise BpfUnavailable(f"cannot attach XDP to {ifname}: {exc}") from None
        try:
            created = self._attach_tc(ifindex)
            self._remove_stale_xdp(ifname, ifindex)
        except Exception as exc:  # pyroute2 NetlinkError and friends
            errors.append(f"tc: {exc}")
            raise BpfUnavailable(f"cannot attach to {ifname}: {'; '.join(errors)}") from None
        self._attached[ifindex] = _Attachment(ifname, ifindex, "tc", created)
        log.info(
            "eBPF VRRP filter attached to %s (tc clsact ingress)%s",
            ifname,
            f" after {errors[0]}" if errors else "",
        )
        return "tc"

    def attachments(self) -> dict[str, str]:
        """{ifname: "xdp"|"tc"} for what this object attached."""
        return {a.ifname: a.hook for a in self._attached.values()}

    def attached(self) -> dict[int, tuple[str, str]]:
        """{ifindex: (ifname, "xdp"|"tc")} for what this object attached."""
        return {i: (a.ifname, a.hook) for i, a in self._attached.items()}

    def _attach_xdp(self, ifname: str, ifindex: int) -> None:
        current = xdp_prog_id(ifindex)
        if current:
            name = _prog_name_by_id(current)
            if name and name != XDP_PROG_NAME:
                raise BpfUnavailable(f"a foreign XDP program ({name!r}) is attached")
        try:
            self._BPF.attach_xdp(ifname.encode(), self.xdp_fn, XDP_FLAGS_SKB_MODE)
        except Exception as exc:
            raise BpfUnavailable(str(exc)) from None

    def _remove_stale_xdp(self, ifname: str, ifindex: int) -> None:
        current = xdp_prog_id(ifindex)
        if current and _prog_name_by_id(current) == XDP_PROG_NAME:
            log.info("removing a stale XDP VRRP filter from %s", ifname)
            self._BPF.remove_xdp(ifname.encode(), XDP_FLAGS_SKB_MODE)

    @staticmethod
    def _ipr() -> Any:
        from pyroute2 import IPRoute

        return IPRoute()

    def _attach_tc(self, ifindex: int) -> bool:
        return bool(_outside_event_loop(self._attach_tc_sync, ifindex))

    def _remove_stale_tc(self, ifindex: int) -> bool:
        return bool(_outside_event_loop(self._remove_stale_tc_sync, ifindex))

    def _del_clsact_if_empty(self, ifindex: int) -> None:
        _outside_event_loop(self._del_clsact_if_empty_sync, ifindex)

    def _attach_tc_sync(self, ifindex: int) -> bool:
        from pyroute2 import NetlinkError

        created = False
        with self._ipr() as ipr:
            try:
                ipr.tc("add", "clsact", ifindex)
                created = True
            except NetlinkError as exc:
                if exc.code != errno.EEXIST:
                    raise
            ipr.tc(
                "replace-filter",
                "bpf",
                ifindex,
                TC_HANDLE,
                fd=self.tc_fn.fd,
                name=TC_PROG_NAME,
                parent=TC_PARENT_INGRESS,
                prio=TC_PRIO,
                classid=1,
                direct_action=True,
                protocol=0x0003,  # ETH_P_ALL
            )
        return created

    def _remove_stale_tc_sync(self, ifindex: int) -> bool:
        from pyroute2 import NetlinkError

        with self._ipr() as ipr:
            try:
                ipr.tc(
                    "del-filter",
                    "bpf",
                    ifindex,
                    TC_HANDLE,
                    parent=TC_PARENT_INGRESS,
                    prio=TC_PRIO,
                    protocol=0x0003,
                )
            except NetlinkError:
                return False
        return True

    def detach(self, ifname: str) -> None:
        """Detach from ``ifname`` what this object attached there (no-op if nothing)."""
        try:
            ifindex = socket.if_nametoindex(ifname)
        except OSError:
            ifindex = 0
        if ifindex not in self._attached:
            ifindex = next((i for i, a in self._attached.items() if a.ifname == ifname), 0)
        self.detach_index(ifindex)

    def detach_index(self, ifindex: int) -> None:
        """Detach what this object attached to ``ifindex`` and forget its map entries.

        The device may be gone (deleted, or re-created under the same name with a new
        ifindex): the kernel removed the program with it, only the bookkeeping is left.
        """
        att = self._attached.pop(ifindex, None)
        if att is None:
            self.forget_ifindex(ifindex)
            return
        try:
            current = socket.if_nametoindex(att.ifname)
        except OSError:
            current = 0
        if current != ifindex:  # gone, or another device has the name now: not ours to touch
            log.info("eBPF VRRP filter: %s (ifindex %d) is gone", att.ifname, ifindex)
            self.forget_ifindex(ifindex)
            return
        ifname = att.ifname
        try:
            if att.hook == "xdp":
                # only if the program there is still ours (a successor may have replaced it)
                if xdp_prog_id(ifindex) == self.xdp_prog_id:
                    self._BPF.remove_xdp(ifname.encode(), XDP_FLAGS_SKB_MODE)
            else:
                self._remove_stale_tc(ifindex)
                if att.created_clsact:
                    self._del_clsact_if_empty(ifindex)
        except Exception as exc:  # interface gone, netlink error: nothing left to undo
            log.debug("detach from %s: %s", ifname, exc)
        self.forget_ifindex(ifindex)

    def _del_clsact_if_empty_sync(self, ifindex: int) -> None:
        from pyroute2 import NetlinkError

        with self._ipr() as ipr, contextlib.suppress(NetlinkError):
            filters = [
                f
                for parent in (TC_PARENT_INGRESS, 0xFFFFFFF3)
                for f in ipr.get_filters(index=ifindex, parent=parent)
                if f.get_attr("TCA_KIND")
            ]
            if not filters:
                ipr.tc("del", "clsact", ifindex)

    def close(self) -> None:
        """Detach everywhere and free the program and maps. Idempotent."""
        if self._closed:
            return
        for ifindex in list(self._attached):
            self.detach_index(ifindex)
        self._closed = True
        try:
            self.bpf.cleanup()
        except Exception as exc:
            log.debug("bcc cleanup: %s", exc)

    def __enter__(self) -> VrrpFilter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
