// Which addresses to sweep: SUBNET / --subnet specs and --exclude specs in
// the forms operators write them, expanded to a sorted, de-duplicated list.
//
//   CIDR      10.1.0.0/16      hosts only: network and broadcast addresses are
//                              skipped for prefixes up to /30
//   wildcard  192.168.2.*      stars in trailing octets: the /24 (/16, /8)
//             10.1.*.*         they span, hosts only, as for CIDR
//   range     10.0.0.10-10.0.0.200, or 10.0.0.10-200 (last octet)
//   single    10.0.0.7
//   list      any of the above separated by commas
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "asicmon/status.h"

namespace asicmon {

// Expansion stops with an error past this many addresses (a /12), so a typo
// like 10.0.0.0/8 is refused rather than swept for hours.
inline constexpr size_t kMaxTargetAddresses = size_t{1} << 20;

// Addresses in host byte order, sorted, unique. InvalidArgument naming the
// offending spec for anything malformed, or when there are more than
// `max_addresses`.
Result<std::vector<uint32_t>> ExpandTargets(const std::vector<std::string>& include,
                                            const std::vector<std::string>& exclude,
                                            size_t max_addresses = kMaxTargetAddresses);

std::string Ipv4ToString(uint32_t address);
Result<uint32_t> ParseIpv4(std::string_view text);

// "a.b.c.d/n": the network (host byte order, host bits cleared) and the mask.
struct Cidr {
  uint32_t network = 0;
  uint32_t mask = 0;
  bool Contains(uint32_t address) const { return (address & mask) == network; }
  int PrefixLength() const;
};
// InvalidArgument "cidr '<text>' ..." for anything but a.b.c.d/n with n 0-32.
Result<Cidr> ParseCidr(std::string_view text);

}  // namespace asicmon
