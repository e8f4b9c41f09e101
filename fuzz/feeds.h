// One function per parser of hostile input: it hands the parser one input and
// checks what came out against invariants that hold for any input (a decoded
// message re-encodes to the same bytes, a repaired reply needs no second
// repair, an accepted address prints back as itself, ...), beyond "does not
// crash". The libFuzzer targets (fuzz_target.cpp) and fuzz_regression_test
// run inputs through these same functions.
//
// Thread-safety: each feed may be called from one thread at a time (the miner
// reply parser keeps a parser per thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace asicmon::fuzz {

struct FeedResult {
  // What the parsers made of the input, one line per parser, e.g.
  // "record: ParseError: bad msgpack record: insufficient bytes". The
  // regression test holds each crasher to the verdict it has once fixed.
  std::string verdict;
  // Empty, or the invariant the input broke: a bug, as much as a crash.
  std::string violation;
};

using Feed = FeedResult (*)(std::string_view input);

// Bytes a miner sent in reply to a poll: RecordFromExchange (JSON repair,
// parse, normalise) and InterpretCommandReply (control's commands).
FeedResult FeedMinerReply(std::string_view input);
// Bytes from a Whatsminer's API v3 port (4433): up to four length-prefixed
// frames, each parsed and read by the whatsminer3 family as one poll.
FeedResult FeedWhatsminerV3(std::string_view input);
// An HTTP response a miner's web API sent (ePIC on 4028, AxeOS on 80): its
// payload (ReplyPayload: headers, chunks), then the body as every step of
// every document family's poll plan (read_documents); a bare body too.
FeedResult FeedHttpReply(std::string_view input);
// A response from a miner's web port to the identity GET (poller.h's web
// identity): its Digest challenge answered, its body read by the antminer
// family's get_system_info.cgi reader.
FeedResult FeedWebIdentity(std::string_view input);
// RepairMinerJson and MinerJsonParser alone.
FeedResult FeedJsonRepair(std::string_view input);
// A message body from the bus through every decoder: record, inventory
// entry, poll job, health event, stage stats.
FeedResult FeedBusMessage(std::string_view input);
// SUBNET specs: the first line is the include list, the rest the exclude list.
FeedResult FeedTargets(std::string_view input);
// A control API request: the input as the body of a pool change
// (PoolChangeFromJson) and as each path or body field a validator checks.
FeedResult FeedControlRequest(std::string_view input);
// The same bytes as a bulk job's request (POST /actions) and as a
// remediation rules file.
FeedResult FeedFleetRequest(std::string_view input);

struct FeedTarget {
  std::string_view name;  // the fuzz target is fuzz_<name>; corpus and crashers are in <name>/
  Feed feed;
};
inline constexpr FeedTarget kFeedTargets[] = {
    {"miner_reply", FeedMinerReply},         {"json_repair", FeedJsonRepair},
    {"bus_message", FeedBusMessage},         {"targets", FeedTargets},
    {"control_request", FeedControlRequest}, {"fleet_request", FeedFleetRequest},
    {"whatsminer_v3", FeedWhatsminerV3},
    {"http_reply", FeedHttpReply},
    {"web_identity", FeedWebIdentity},
};

// The body of LLVMFuzzerTestOneInput: runs `feed` and aborts, printing the
// broken invariant, when there is one (libFuzzer then keeps the input).
void FeedOrAbort(Feed feed, const uint8_t* data, size_t size);

}  // namespace asicmon::fuzz
