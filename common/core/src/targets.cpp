#include "asicmon/targets.h"

#include <algorithm>
#include <bit>
#include <charconv>

namespace asicmon {
namespace {

struct Span {
  uint32_t first;
  uint32_t last;  // inclusive
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Result<unsigned> ParseNumber(std::string_view s, unsigned max) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || s.size() > 3 || ec != std::errc() || end != s.data() + s.size() || v > max) {
    return Status::InvalidArgument("bad number '" + std::string(s) + "'");
  }
  return v;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) return parts;
    start = pos + 1;
  }
}

// The hosts of a network: network and broadcast addresses are skipped up to a /30.
Span HostsOf(uint32_t base, unsigned prefix) {
  const uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  Span span{base & mask, (base & mask) | ~mask};
  if (prefix <= 30) {
    ++span.first;
    --span.last;
  }
  return span;
}

// One spec (no commas) to the address span it names.
Result<Span> ParseSpec(std::string_view spec) {
  const std::string quoted = Quoted(spec);
  if (size_t slash = spec.find('/'); slash != std::string_view::npos) {
    Result<uint32_t> base = ParseIpv4(spec.substr(0, slash));
    Result<unsigned> prefix = ParseNumber(spec.substr(slash + 1), 32);
    if (!base.ok() || !prefix.ok()) {
      return Status::InvalidArgument(quoted + " is not CIDR like 10.1.0.0/16");
    }
    return HostsOf(*base, *prefix);
  }
  if (size_t dash = spec.find('-'); dash != std::string_view::npos) {
    Result<uint32_t> first = ParseIpv4(spec.substr(0, dash));
    const std::string_view tail = spec.substr(dash + 1);
    Result<uint32_t> last = ParseIpv4(tail);
    if (first.ok() && tail.find('.') == std::string_view::npos) {
      // 10.0.0.10-200: the end is a last octet.
      Result<unsigned> octet = ParseNumber(tail, 255);
      if (octet.ok()) last = (*first & 0xFFFFFF00u) | *octet;
    }
    if (!first.ok() || !last.ok()) {
      return Status::InvalidArgument(quoted + " is not a range like 10.0.0.10-10.0.0.200");
    }
    if (*last < *first) return Status::InvalidArgument(quoted + ": range ends before it starts");
    return Span{*first, *last};
  }
  if (spec.find('*') != std::string_view::npos) {
    // 192.168.2.* and 10.1.*.*: stars only in trailing octets, read as the
    // network they span (a /24, a /16), hosts only.
    const std::vector<std::string_view> octets = Split(spec, '.');
    size_t stars = 0;
    while (stars < octets.size() && octets[octets.size() - 1 - stars] == "*") ++stars;
    std::string fixed;
    for (size_t i = 0; i < octets.size(); ++i) fixed += i < octets.size() - stars ? std::string(octets[i]) + "." : "0.";
    fixed.pop_back();
    Result<uint32_t> base = ParseIpv4(fixed);
    if (octets.size() != 4 || stars == 0 || !base.ok()) {
      return Status::InvalidArgument(quoted + " is not a wildcard like 192.168.2.* or 10.1.*.*");
    }
    return HostsOf(*base, static_cast<unsigned>(32 - 8 * stars));
  }
  Result<uint32_t> single = ParseIpv4(spec);
  if (!single.ok()) {
    return Status::InvalidArgument(quoted + " is not an address, CIDR, wildcard or range");
  }
  return Span{*single, *single};
}

Result<std::vector<Span>> ParseSpecs(const std::vector<std::string>& specs) {
  std::vector<Span> spans;
  for (const std::string& joined : specs) {
    for (std::string_view part : Split(joined, ',')) {
      part = Trim(part);
      if (part.empty()) continue;
      Result<Span> parsed = ParseSpec(part);
      if (!parsed.ok()) return parsed.status();
      spans.push_back(*parsed);
    }
  }
  return spans;
}

}  // namespace

Result<uint32_t> ParseIpv4(std::string_view text) {
  const std::vector<std::string_view> octets = Split(Trim(text), '.');
  if (octets.size() != 4) return Status::InvalidArgument(Quoted(text) + " is not IPv4");
  uint32_t v = 0;
  for (std::string_view o : octets) {
    Result<unsigned> n = ParseNumber(o, 255);
    if (!n.ok()) return Status::InvalidArgument(Quoted(text) + " is not IPv4");
    v = v << 8 | *n;
  }
  return v;
}

std::string Ipv4ToString(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
         std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
}

Result<std::vector<uint32_t>> ExpandTargets(const std::vector<std::string>& include,
                                            const std::vector<std::string>& exclude,
                                            size_t max_addresses) {
  Result<std::vector<Span>> in = ParseSpecs(include);
  if (!in.ok()) return in.status();
  Result<std::vector<Span>> out = ParseSpecs(exclude);
  if (!out.ok()) return out.status();
  if (in->empty()) return Status::InvalidArgument("no targets given");
  uint64_t total = 0;
  for (const Span& s : *in) total += uint64_t{s.last} - s.first + 1;
  if (total > max_addresses) {
    return Status::InvalidArgument("targets name " + std::to_string(total) + " addresses, more than the " +
                                   std::to_string(max_addresses) + " allowed (split the farm across discover instances)");
  }
  std::vector<uint32_t> addresses;
  addresses.reserve(static_cast<size_t>(total));
  for (const Span& s : *in) {
    for (uint64_t a = s.first; a <= s.last; ++a) addresses.push_back(static_cast<uint32_t>(a));
  }
  std::sort(addresses.begin(), addresses.end());
  addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
  std::erase_if(addresses, [&](uint32_t a) {
    return std::any_of(out->begin(), out->end(), [a](const Span& s) { return a >= s.first && a <= s.last; });
  });
  return addresses;
}

Result<Cidr> ParseCidr(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return Status::InvalidArgument("cidr " + Shown(text) + " " + std::string(why));
  };
  const size_t slash = text.find('/');
  // ParseIpv4 forgives spaces around the address; a CIDR in a request or config does not.
  if (slash == std::string_view::npos || text.find_first_of(" \t") != std::string_view::npos) {
    return invalid("is not a.b.c.d/n");
  }
  const std::string_view bits_text = text.substr(slash + 1);
  int bits = -1;
  const auto [end, ec] =
      std::from_chars(bits_text.data(), bits_text.data() + bits_text.size(), bits);
  if (bits_text.empty() || ec != std::errc() || end != bits_text.data() + bits_text.size() ||
      bits < 0 || bits > 32) {
    return invalid("needs a prefix length 0-32 after '/'");
  }
  Result<uint32_t> address = ParseIpv4(text.substr(0, slash));
  if (!address.ok()) return invalid("is not a.b.c.d/n");
  const uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
  return Cidr{*address & mask, mask};
}

int Cidr::PrefixLength() const { return std::popcount(mask); }

}  // namespace asicmon
