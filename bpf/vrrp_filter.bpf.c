/* vrrp_filter.bpf.c - hadaemon's in-kernel VRRP receive filter (bcc).
 *
 * Attached to every interface that carries VRRP: XDP in generic (skb) mode, or tc clsact
 * ingress where XDP cannot attach. For each IPv4 / IPv6 packet with protocol 112 (after up to
 * two VLAN tags) it drops what can never be valid for this router and counts the reason:
 *
 *   multicast with TTL / hop limit != 255      RFC 5798 §7.1 (unicast may cross routers,
 *                                              keepalived accepts any TTL there)
 *   version not 2/3, v2 over IPv6, type != 1   RFC 5798 §7.1
 *   VRID not configured on (ifindex, vlan, family)   bitmap map written by user space
 *   truncated: header + addresses (+ v2 auth) longer than the packet or the IP length
 *
 * What passes is stamped with bpf_ktime_get_ns() (CLOCK_MONOTONIC, the clock of Python's
 * time.monotonic_ns()), recorded in last_seen[(ifindex, vlan, family, vrid)] and sent as a
 * ring-buffer record, then handed on to the stack (XDP_PASS / TC_ACT_OK) so the raw socket
 * still reads it.
 *
 * VLANs: the key's vlan is the innermost tag's VID, 0 for untagged frames. XDP (generic) sees
 * tags in the frame; at tc ingress the stack has already moved the outer tag to
 * skb->vlan_tci, which seeds the key (see hadaemon/io/vlan.py for where user space attaches
 * for an instance on a VLAN device).
 *
 * Non-VRRP traffic is never touched. Interfaces/VLANs without a bitmap entry pass unfiltered
 * (counted), so a hook never judges traffic it was not configured for.
 *
 * Only uapi headers are used so that any recent kernel headers compile it.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>

#include "vrrp_filter.h"

#ifndef TC_ACT_OK
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#endif
#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif
#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF

BPF_HASH(vrid_bitmap, struct vrrp_iface_key, struct vrrp_vrid_bitmap, VRRP_BITMAP_MAX);
BPF_HASH(last_seen, struct vrrp_seen_key, struct vrrp_seen, VRRP_LAST_SEEN_MAX);
BPF_PERCPU_ARRAY(counters, u64, VRRP_CNT_MAX);
BPF_RINGBUF_OUTPUT(events, VRRP_RINGBUF_PAGES);

/* Verdicts of vrrp_parse(), mapped to XDP / tc return codes by the entry points. */
#define V_PASS 0
#define V_DROP 1

static __always_inline void count(u32 reason)
{
	u64 *c = counters.lookup(&reason);
	if (c)
		*c += 1; /* per-CPU slot: no atomics needed */
}

static __always_inline int drop(u32 reason)
{
	count(reason);
	return VRRP_ENFORCE ? V_DROP : V_PASS;
}

static __always_inline int vrrp_parse(void *data, void *end, u32 ifindex, u16 meta_vlan, u8 hook)
{
	u64 now = bpf_ktime_get_ns();
	struct ethhdr *eth = data;
	struct vrrp_iface_key ikey = {};
	struct vrrp_event ev = {};
	u16 proto;
	u8 *off = data;
	u8 *v;
	u32 ip_payload_len;
	u8 ttl, multicast;

	if ((void *)(eth + 1) > end)
		return V_PASS;
	/* a tag the NIC or the stack already took off the frame (tc: skb->vlan_tci) */
	ikey.vlan = meta_vlan;
	proto = eth->h_proto;
	off = (u8 *)(eth + 1);

#pragma unroll
	for (int i = 0; i < VRRP_MAX_VLAN_DEPTH; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(off + 4) > end)
			return V_PASS;
		/* the innermost tag names the VLAN */
		ikey.vlan = bpf_ntohs(*(u16 *)off) & 0x0FFF;
		proto = *(u16 *)(off + 2);
		off += 4;
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)off;
		u32 ihl_len;

		if ((void *)(ip + 1) > end || ip->protocol != VRRP_IPPROTO)
			return V_PASS;
		if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET)) {
			count(VRRP_CNT_PASS_FRAGMENT);
			return V_PASS;
		}
		ihl_len = ip->ihl * 4;
		if (ihl_len < sizeof(*ip))
			return drop(VRRP_CNT_DROP_TRUNCATED);
		if (ihl_len > 60)
			return drop(VRRP_CNT_DROP_TRUNCATED);
		if (bpf_ntohs(ip->tot_len) < ihl_len)
			return drop(VRRP_CNT_DROP_TRUNCATED);
		ip_payload_len = bpf_ntohs(ip->tot_len) - ihl_len;
		v = off + ihl_len;
		ttl = ip->ttl;
		multicast = (bpf_ntohl(ip->daddr) & 0xF0000000) == 0xE0000000;
		ikey.family = VRRP_FAMILY_INET;
		__builtin_memcpy(ev.src, &ip->saddr, 4);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)off;

		/* extension headers are not followed: VRRP adverts never carry them */
		if ((void *)(ip6 + 1) > end || ip6->nexthdr != VRRP_IPPROTO)
			return V_PASS;
		ip_payload_len = bpf_ntohs(ip6->payload_len);
		v = (u8 *)(ip6 + 1);
		ttl = ip6->hop_limit;
		multicast = ip6->daddr.in6_u.u6_addr8[0] == 0xFF;
		ikey.family = VRRP_FAMILY_INET6;
		__builtin_memcpy(ev.src, &ip6->saddr, 16);
	} else {
		return V_PASS;
	}

	if ((void *)(v + VRRP_HDR_LEN) > end || ip_payload_len < VRRP_HDR_LEN)
		return drop(VRRP_CNT_DROP_TRUNCATED);
	if (multicast && ttl != VRRP_TTL)
		return drop(VRRP_CNT_DROP_TTL);

	u8 version = v[0] >> 4;
	u8 type = v[0] & 0x0F;
	u8 vrid = v[1];
	u8 naddr = v[3];
	u32 need;

	if (version == 3) {
		need = VRRP_HDR_LEN + (u32)naddr * (ikey.family == VRRP_FAMILY_INET ? 4 : 16);
		ev.adver_int_cs = ((u16)(v[4] & 0x0F) << 8) | v[5];
	} else if (version == 2 && ikey.family == VRRP_FAMILY_INET) {
		need = VRRP_HDR_LEN + (u32)naddr * 4 + VRRP_V2_AUTH_LEN;
		ev.adver_int_cs = (u16)v[5] * 100;
	} else {
		return drop(VRRP_CNT_DROP_VERSION);
	}
	if (type != VRRP_TYPE_ADVERTISEMENT)
		return drop(VRRP_CNT_DROP_TYPE);
	if (need > ip_payload_len || (void *)(v + need) > end)
		return drop(VRRP_CNT_DROP_TRUNCATED);

	ikey.ifindex = ifindex;
	struct vrrp_vrid_bitmap *bm = vrid_bitmap.lookup(&ikey);
	if (!bm) {
		count(VRRP_CNT_PASS_UNFILTERED);
		return V_PASS;
	}
	if (!((bm->bits[(vrid >> 6) & 3] >> (vrid & 63)) & 1))
		return drop(VRRP_CNT_DROP_VRID);

	struct vrrp_seen_key skey = {};
	struct vrrp_seen seen = {};
	struct vrrp_seen *old;

	skey.ifindex = ifindex;
	skey.vlan = ikey.vlan;
	skey.family = ikey.family;
	skey.vrid = vrid;
	old = last_seen.lookup(&skey);
	seen.count = old ? old->count + 1 : 1;
	seen.ktime_ns = now;
	seen.adver_int_cs = ev.adver_int_cs;
	seen.priority = v[2];
	seen.version = version;
	seen.hook = hook;
	__builtin_memcpy(seen.src, ev.src, 16);
	last_seen.update(&skey, &seen);

	ev.ktime_ns = now;
	ev.ifindex = ifindex;
	ev.vlan = ikey.vlan;
	ev.family = ikey.family;
	ev.vrid = vrid;
	ev.priority = v[2];
	ev.version = version;
	ev.ttl = ttl;
	ev.hook = hook;
	if (events.ringbuf_output(&ev, sizeof(ev), 0) != 0)
		count(VRRP_CNT_RINGBUF_FULL);
	count(VRRP_CNT_PASS);
	return V_PASS;
}

int xdp_vrrp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	/* generic XDP runs before the stack takes tags off: they are in the frame, unless the
	 * NIC strips them (rx-vlan-hw-parse), which is why user space picks tc then */
	return vrrp_parse(data, end, ctx->ingress_ifindex, 0, VRRP_HOOK_XDP) == V_DROP ? XDP_DROP
										      : XDP_PASS;
}

int tc_vrrp(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;

	/* at tc ingress the stack has already moved the outer tag into skb->vlan_tci (and a
	 * QinQ inner tag, if any, is still in the frame: the innermost one names the VLAN) */
	u16 meta_vlan = skb->vlan_present ? (skb->vlan_tci & 0x0FFF) : 0;

	return vrrp_parse(data, end, skb->ifindex, meta_vlan, VRRP_HOOK_TC) == V_DROP
		       ? TC_ACT_SHOT
		       : TC_ACT_OK;
}
