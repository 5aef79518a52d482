// Every value the project owns in the kernel, named once (docs/DESIGN.md sections 3-4).
// Pure: no system calls. `ambientctl dump` lists these through ownedValues().
#pragma once

#include <cstdint>
#include <string_view>

namespace ambient {

// Tunnel devices: node side and ztunnel-pod side.
inline constexpr std::string_view kInboundTunnel = "istioin";
inline constexpr std::string_view kOutboundTunnel = "istioout";
inline constexpr std::string_view kPodInboundTunnel = "pistioin";
inline constexpr std::string_view kPodOutboundTunnel = "pistioout";
inline constexpr uint32_t kInboundVni = 1000;
inline constexpr uint32_t kOutboundVni = 1001;
inline constexpr uint16_t kDefaultTunnelPort = 6081;
// Outer IPv4 (20) + UDP (8) + geneve/vxlan header (8) + inner Ethernet (14).
inline constexpr uint32_t kTunnelOverhead = 50;
// The same over an IPv6 underlay (IPv6-only nodes): the outer header is 40 bytes.
inline constexpr uint32_t kTunnelOverhead6 = 70;

// Tunnel addresses (/30 each): node end .1, ztunnel end .2.
inline constexpr std::string_view kInboundNodeAddr = "192.168.126.1/30";
inline constexpr std::string_view kInboundPodAddr = "192.168.126.2/30";
inline constexpr std::string_view kOutboundNodeAddr = "192.168.127.1/30";
inline constexpr std::string_view kOutboundPodAddr = "192.168.127.2/30";
inline constexpr std::string_view kInboundPodIp = "192.168.126.2";
inline constexpr std::string_view kOutboundPodIp = "192.168.127.2";
// IPv6 (dual-stack pods): fixed unique-local /126s next to the /30s, added without duplicate
// address detection (docs/DESIGN.md, "IPv6").
inline constexpr std::string_view kInboundNodeAddr6 = "fd00:126::1/126";
inline constexpr std::string_view kInboundPodAddr6 = "fd00:126::2/126";
inline constexpr std::string_view kOutboundNodeAddr6 = "fd00:127::1/126";
inline constexpr std::string_view kOutboundPodAddr6 = "fd00:127::2/126";
inline constexpr std::string_view kInboundPodIp6 = "fd00:126::2";
inline constexpr std::string_view kOutboundPodIp6 = "fd00:127::2";

// Packet marks (value doubles as mask).
inline constexpr uint32_t kMarkOutbound = 0x100;     // to ztunnel through istioout
inline constexpr uint32_t kMarkSkip = 0x200;         // leave alone, main table
inline constexpr uint32_t kMarkConnSkip = 0x220;     // skip, remembered on the connection
inline constexpr uint32_t kMarkProxySpoof = 0x210;   // from ztunnel with a client's source
inline constexpr uint32_t kMarkProxyReturn = 0x040;  // reply to a spoofed connection
// Inside the ztunnel pod.
inline constexpr uint32_t kMarkTproxy = 0x400;
inline constexpr uint32_t kMarkPodReturn = 0x4d3;
inline constexpr uint32_t kMarkPodMask = 0xfff;

// Policy routing, node namespace.
inline constexpr uint32_t kTableInbound = 100;
inline constexpr uint32_t kTableOutbound = 101;
inline constexpr uint32_t kTableProxyReturn = 102;
inline constexpr uint32_t kTableMain = 254;
inline constexpr uint32_t kPrioHostSkip = 99;
inline constexpr uint32_t kPrioSkip = 100;
inline constexpr uint32_t kPrioOutbound = 101;
inline constexpr uint32_t kPrioProxyReturn = 102;
inline constexpr uint32_t kPrioInbound = 103;
inline constexpr uint32_t kPrioMainRule = 32766;  // the kernel's "from all lookup main"
// Policy routing, ztunnel namespace.
inline constexpr uint32_t kPodTableLocal = 100;
inline constexpr uint32_t kPodPrioTproxy = 20000;
inline constexpr uint32_t kPodPrioReturn = 20003;

// Route and rule protocol value that marks an object as ours (rtnetlink proto, 0-255).
inline constexpr uint8_t kRouteProtocol = 112;

// nftables: one private table per namespace and family (ip; ip6 for IPv6 pods).
inline constexpr std::string_view kNftTable = "ambient_redirect";
inline constexpr std::string_view kNftPodSet = "enrolled_pods";
// Bridge mode: the enrolled pods' IPv6 addresses, whose TCP the bridge table drops (IPv6 fails
// closed on a bridge node).
inline constexpr std::string_view kNftPodSet6 = "enrolled_pods6";
// Bridge mode (ztunnel's veth is a bridge port): a second table, family bridge, in the node.
inline constexpr std::string_view kNftBridgeTable = "ambient_bridge";
inline constexpr int kNftPrioBridgeFirst = -300;  // before any bridge-family filter (0)
inline constexpr int kNftPrioMangle = -150;
inline constexpr int kNftPrioDstNatEarly = -110;  // before kube-proxy's dstnat (-100)
inline constexpr int kNftPrioSrcNatEarly = 90;    // before srcnat (100)

// ztunnel ports (TPROXY targets inside the ztunnel pod).
inline constexpr uint16_t kPortOutbound = 15001;
inline constexpr uint16_t kPortInboundPlain = 15006;
inline constexpr uint16_t kPortHbone = 15008;
inline constexpr std::string_view kTproxyIp = "127.0.0.1";
inline constexpr std::string_view kTproxyIp6 = "::1";

inline constexpr uint32_t kIfNameMax = 15;  // IFNAMSIZ - 1

}  // namespace ambient
