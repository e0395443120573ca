/* vrrp_filter.h - constants and structs shared by vrrp_filter.bpf.c and hadaemon/io/bpf.py.
 *
 * Katran-style: every struct that crosses the kernel/user boundary lives here, and the Python
 * loader reads them through the types bcc derives from this file (map keys/leaves and the
 * ring-buffer record), so no hand-written ctypes mirror can drift. bcc types (u8..u64) are used
 * because bcc's ring-buffer decoder only knows those names.
 */
#ifndef HADAEMON_VRRP_FILTER_H
#define HADAEMON_VRRP_FILTER_H

/* -- knobs (override with cflags -D...) ------------------------------------------------- */
#ifndef VRRP_ENFORCE
#define VRRP_ENFORCE 1            /* 1: drop what can never be valid; 0: count only, pass all */
#endif
#ifndef VRRP_RINGBUF_PAGES
#define VRRP_RINGBUF_PAGES 16     /* ring buffer size in pages (power of two) */
#endif
#ifndef VRRP_LAST_SEEN_MAX
#define VRRP_LAST_SEEN_MAX 4096   /* entries in last_seen */
#endif
#ifndef VRRP_BITMAP_MAX
#define VRRP_BITMAP_MAX 1024      /* (ifindex, vlan, family) entries in vrid_bitmap */
#endif

/* -- protocol constants ----------------------------------------------------------------- */
#define VRRP_IPPROTO 112          /* RFC 5798 §5.1.1.4 */
#define VRRP_TTL 255              /* RFC 5798 §5.1.1.3 / §5.1.2.3, checked on multicast */
#define VRRP_TYPE_ADVERTISEMENT 1 /* RFC 5798 §5.2.2 */
#define VRRP_HDR_LEN 8            /* version/type, vrid, priority, count, interval, checksum */
#define VRRP_V2_AUTH_LEN 8        /* RFC 3768 §5.3.10: authentication data, always present */
#define VRRP_FAMILY_INET 2        /* = AF_INET, so Python's socket constants key the maps */
#define VRRP_FAMILY_INET6 10      /* = AF_INET6 */
#define VRRP_MAX_VLAN_DEPTH 2     /* 802.1Q / 802.1ad tags skipped (QinQ) */

/* Which hook wrote a record. */
#define VRRP_HOOK_XDP 1
#define VRRP_HOOK_TC 2

/* -- per-CPU counters: index = reason ------------------------------------------------------ */
enum vrrp_counter {
	VRRP_CNT_PASS = 0,        /* valid for us: stamped, recorded, passed */
	VRRP_CNT_DROP_TTL,        /* multicast with TTL / hop limit != 255 */
	VRRP_CNT_DROP_VERSION,    /* version not 2/3, or v2 over IPv6 */
	VRRP_CNT_DROP_TYPE,       /* type != 1 (ADVERTISEMENT) */
	VRRP_CNT_DROP_VRID,       /* VRID not configured on this interface and family */
	VRRP_CNT_DROP_TRUNCATED,  /* shorter than the header + addresses (+ v2 auth) */
	VRRP_CNT_PASS_UNFILTERED, /* no bitmap for this (ifindex, vlan, family): not ours to judge */
	VRRP_CNT_PASS_FRAGMENT,   /* IPv4 fragment: left to the kernel's reassembly */
	VRRP_CNT_RINGBUF_FULL,    /* passed, but the ring-buffer record was lost */
	VRRP_CNT_MAX,
};

/* -- maps' keys and values ----------------------------------------------------------------- */

/* vrid_bitmap key: one configured (interface, VLAN, family). vlan = 0 for untagged frames. */
struct vrrp_iface_key {
	u32 ifindex;
	u16 vlan;
	u8 family;
	u8 pad;
};

/* vrid_bitmap value: bit v set <=> VRID v (1..255) is configured. */
struct vrrp_vrid_bitmap {
	u64 bits[4];
};

/* last_seen key: (interface, VLAN, family, VRID). */
struct vrrp_seen_key {
	u32 ifindex;
	u16 vlan;
	u8 family;
	u8 vrid;
};

/* last_seen value: the latest valid advert for that key. */
struct vrrp_seen {
	u64 ktime_ns;           /* bpf_ktime_get_ns() = CLOCK_MONOTONIC at the hook */
	u64 count;              /* valid adverts seen for this key */
	u16 adver_int_cs;       /* v3 Max Adver Int (cs); v2 Adver Int * 100 */
	u8 priority;
	u8 version;
	u8 hook;                /* VRRP_HOOK_XDP / VRRP_HOOK_TC */
	u8 pad[3];
	u8 src[16];             /* IPv4 in the first 4 bytes */
};

/* Ring-buffer record, one per valid advert. */
struct vrrp_event {
	u64 ktime_ns;
	u32 ifindex;
	u16 vlan;
	u8 family;
	u8 vrid;
	u16 adver_int_cs;
	u8 priority;
	u8 version;
	u8 ttl;
	u8 hook;
	u8 pad[2];
	u8 src[16];
};

#endif /* HADAEMON_VRRP_FILTER_H */
