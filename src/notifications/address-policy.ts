import ipaddr from "ipaddr.js";

/**
 * Which network addresses a notification may be sent to (server-side request forgery defence). Checked on the
 * address a destination's host resolves to at send time, and the connection is made to exactly that address.
 *
 * - Always refused: link-local (169.254.0.0/16, fe80::/10) — where cloud metadata services live — the metadata
 *   addresses outside it (fd00:ec2::254 AWS, fd20:ce::254 GCP, 100.100.100.200 Alibaba, 168.63.129.16 Azure),
 *   unspecified, multicast and broadcast addresses, also when written as IPv4-mapped, NAT64 or 6to4 IPv6.
 * - Refused unless NOTIFICATION_ALLOW_PRIVATE_NETWORKS=true: loopback, RFC 1918, unique-local (fc00::/7),
 *   carrier-grade NAT (100.64.0.0/10) and the other reserved ranges.
 * - Everything else (public unicast) is allowed.
 */
export type AddressVerdict = { allowed: true } | { allowed: false; reason: string };

const METADATA_ADDRESSES = new Set(["fd00:ec2::254", "fd20:ce::254", "100.100.100.200", "168.63.129.16"]);
const ALWAYS_REFUSED_RANGES = new Set(["linkLocal", "unspecified", "multicast", "broadcast", "discard"]);
/** ipaddr.js range names that are not the public Internet: only with NOTIFICATION_ALLOW_PRIVATE_NETWORKS=true. */
const PRIVATE_RANGES = new Set([
  "loopback",
  "private",
  "uniqueLocal",
  "carrierGradeNat",
  "reserved",
  "deprecatedSiteLocal",
  "benchmarking",
  "amt",
  "as112",
  "as112v6",
  "deprecatedOrchid",
  "orchid2",
  "droneRemoteIdProtocolEntityTags",
  "segmentRouting",
]);

function embeddedIpv4(address: ipaddr.IPv6): ipaddr.IPv4 | null {
  const range = address.range();
  const bytes = address.toByteArray();
  if (range === "rfc6052" || range === "rfc6145") return new ipaddr.IPv4(bytes.slice(12, 16));
  if (range === "6to4") return new ipaddr.IPv4(bytes.slice(2, 6));
  if (range === "teredo") return new ipaddr.IPv4(bytes.slice(12, 16).map((b) => b ^ 0xff));
  return null;
}

export function checkAddress(text: string, allowPrivateNetworks: boolean): AddressVerdict {
  if (!ipaddr.isValid(text)) return { allowed: false, reason: `${text} is not an IP address` };
  // process() turns ::ffff:a.b.c.d into the IPv4 address it is.
  const address = ipaddr.process(text);
  const normalized = address.toNormalizedString();
  const canonical = address.kind() === "ipv6" ? (address as ipaddr.IPv6).toRFC5952String() : normalized;
  if (METADATA_ADDRESSES.has(canonical)) return { allowed: false, reason: `${canonical} is a cloud metadata address (always refused)` };
  const range = address.range();
  if (ALWAYS_REFUSED_RANGES.has(range)) return { allowed: false, reason: `${canonical} is a ${range} address (always refused)` };
  if (address.kind() === "ipv6") {
    const inner = embeddedIpv4(address as ipaddr.IPv6);
    if (inner) {
      const verdict = checkAddress(inner.toString(), allowPrivateNetworks);
      if (!verdict.allowed) return { allowed: false, reason: `${canonical} embeds ${inner.toString()}: ${verdict.reason}` };
    }
  }
  if (PRIVATE_RANGES.has(range) && !allowPrivateNetworks)
    return { allowed: false, reason: `${canonical} is a ${range} address (allowed only with NOTIFICATION_ALLOW_PRIVATE_NETWORKS=true)` };
  return { allowed: true };
}

/** The IP address a URL's host is written as, or null when the host is a name. */
export function literalAddress(hostname: string): string | null {
  const bare = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
  return ipaddr.isValid(bare) && (ipaddr.IPv4.isValidFourPartDecimal(bare) || bare.includes(":")) ? bare : null;
}
