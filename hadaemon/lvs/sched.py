"""Pure scheduler maths: weighted slot lists for rr/wrr/sh, weighted random ranges, Maglev.

The nft data path turns a scheduler into "an integer key → real server" table: ``numgen inc``
(rr/wrr), ``numgen random`` (weighted random), ``jhash`` (sh, mh, and every scheduler in DR, which
is stateless and must hash the flow). These functions compute those tables; the backend renders
them. Everything is deterministic so that two directors compute the same tables.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import reduce
from math import gcd

#: upper bound of slots for wrr/sh/random tables; weights are scaled down beyond it
MAX_SLOTS = 1024
#: Maglev table sizes (primes); the first one >= MAGLEV_SLOTS_PER_SERVER * n is used
MAGLEV_PRIMES = (251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521)
MAGLEV_SLOTS_PER_SERVER = 50


def reduce_weights(weights: Sequence[int], max_total: int = MAX_SLOTS) -> list[int]:
    """Divide weights by their gcd and scale them so that their sum stays <= ``max_total``.

    Zero weights stay zero; a positive weight never becomes zero.
    """
    pos = [w for w in weights if w > 0]
    if not pos:
        return [0 for _ in weights]
    g = reduce(gcd, pos)
    out = [w // g for w in weights]
    total = sum(out)
    if total > max_total:
        out = [max(1, w * max_total // total) if w > 0 else 0 for w in out]
    return out


def smooth_wrr_slots(weights: Sequence[int]) -> list[int]:
    """nginx "smooth weighted round robin" sequence of server indexes (2:1:1 → 0,1,0,2).

    Its length is the sum of the reduced weights; servers with weight 0 never appear.
    """
    w = reduce_weights(weights)
    total = sum(w)
    current = [0] * len(w)
    slots: list[int] = []
    for _ in range(total):
        best = -1
        for i, wi in enumerate(w):
            if wi <= 0:
                continue
            current[i] += wi
            if best < 0 or current[i] > current[best]:
                best = i
        current[best] -= total
        slots.append(best)
    return slots


def random_ranges(weights: Sequence[int]) -> tuple[int, list[tuple[int, int, int]]]:
    """Weighted random: ``(modulus, [(low, high, index), ...])`` for ``numgen random mod``."""
    w = reduce_weights(weights)
    out: list[tuple[int, int, int]] = []
    lo = 0
    for i, wi in enumerate(w):
        if wi > 0:
            out.append((lo, lo + wi - 1, i))
            lo += wi
    return lo, out


def _h(name: str, salt: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8, salt=salt).digest(), "big")


def maglev_size(n_servers: int) -> int:
    """The Maglev lookup table size for ``n_servers`` (a prime)."""
    need = max(1, n_servers) * MAGLEV_SLOTS_PER_SERVER
    for p in MAGLEV_PRIMES:
        if p >= need:
            return p
    return MAGLEV_PRIMES[-1]


def maglev_table(names: Sequence[str], weights: Sequence[int], size: int) -> list[int]:
    """Weighted Maglev lookup table (Eisenbud et al., NSDI 2016, §3.4) of server indexes.

    Each server walks its own permutation ``(offset + j * skip) mod size``; in each round a server
    claims as many free entries as its reduced weight. Servers with weight 0 get no entry. The
    result depends only on the names, weights and size, so removing one server moves about 1/N of
    the entries.
    """
    w = reduce_weights(weights, max_total=size)
    live = [i for i, wi in enumerate(w) if wi > 0]
    if not live:
        return []
    offset = {i: _h(names[i], b"offset") % size for i in live}
    skip = {i: _h(names[i], b"skip") % (size - 1) + 1 for i in live}
    nxt = dict.fromkeys(live, 0)
    table = [-1] * size
    filled = 0
    while True:
        for i in live:
            for _ in range(w[i]):
                c = (offset[i] + nxt[i] * skip[i]) % size
                while table[c] >= 0:
                    nxt[i] += 1
                    c = (offset[i] + nxt[i] * skip[i]) % size
                table[c] = i
                nxt[i] += 1
                filled += 1
                if filled == size:
                    return table


def compress(slots: Sequence[int]) -> list[tuple[int, int, int]]:
    """Run-length ranges ``(low, high, value)`` of a slot table (nft interval map elements)."""
    out: list[tuple[int, int, int]] = []
    for k, v in enumerate(slots):
        if out and out[-1][2] == v and out[-1][1] == k - 1:
            out[-1] = (out[-1][0], k, v)
        else:
            out.append((k, k, v))
    return out
