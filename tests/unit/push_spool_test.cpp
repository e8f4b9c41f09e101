// push's disk spool: append, read, ack, reopen; a torn tail is cut off; a
// damaged older segment is skipped and counted; the size bound drops the
// oldest and counts it; the in-flight batch range and the producer id
// survive a restart.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "spool.h"
#include "testlib.h"

namespace asicmon::push {
namespace {

namespace fs = std::filesystem;

std::string Payload(uint64_t i, size_t size = 100) {
  std::string p = "record-" + std::to_string(i) + "-";
  p.resize(size, static_cast<char>('a' + i % 26));
  return p;
}

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("spool_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
            "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    options_.dir = dir_.string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Spool> Open() {
    Result<std::unique_ptr<Spool>> spool = Spool::Open(options_);
    EXPECT_TRUE(spool.ok()) << spool.status().ToString();
    return spool.ok() ? std::move(*spool) : nullptr;
  }

  static void AppendN(Spool& spool, uint64_t from, uint64_t to, size_t size = 100) {
    for (uint64_t i = from; i <= to; ++i) {
      Result<uint64_t> seq = spool.Append(Payload(i, size));
      ASSERT_OK(seq);
      ASSERT_EQ(*seq, i);
    }
  }

  static std::vector<SpoolEntry> ReadAll(Spool& spool) {
    std::vector<SpoolEntry> all, batch;
    do {
      EXPECT_OK(spool.Read(1000, UINT64_MAX, batch));
      all.insert(all.end(), batch.begin(), batch.end());
    } while (!batch.empty());
    return all;
  }

  std::vector<fs::path> Segments() const {
    std::vector<fs::path> out;
    for (const auto& f : fs::directory_iterator(dir_)) {
      if (f.path().filename().string().rfind("seg-", 0) == 0) out.push_back(f.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  fs::path dir_;
  SpoolOptions options_;
};

TEST_F(SpoolTest, AppendReadAckReopen) {
  {
    auto spool = Open();
    ASSERT_TRUE(spool);
    EXPECT_EQ(spool->unread(), 0u);
    ASSERT_NO_FATAL_FAILURE(AppendN(*spool, 1, 10));
    EXPECT_EQ(spool->unread(), 10u);
    std::vector<SpoolEntry> batch;
    ASSERT_OK(spool->Read(4, UINT64_MAX, batch));  // unflushed entries are flushed for the reader
    ASSERT_EQ(batch.size(), 4u);
    for (uint64_t i = 0; i < 4; ++i) {
      EXPECT_EQ(batch[i].seq, i + 1);
      EXPECT_EQ(batch[i].payload, Payload(i + 1));
    }
    ASSERT_OK(spool->Read(100, 7, batch));  // not past max_seq
    ASSERT_EQ(batch.size(), 3u);
    EXPECT_EQ(batch.back().seq, 7u);
    EXPECT_EQ(spool->unread(), 3u);
    ASSERT_OK(spool->Ack(4));
    EXPECT_EQ(spool->pending(), 6u);
  }
  auto spool = Open();
  ASSERT_TRUE(spool);
  EXPECT_EQ(spool->acked(), 4u);
  EXPECT_EQ(spool->last_seq(), 10u);
  EXPECT_FALSE(spool->pending_batch());
  std::vector<SpoolEntry> rest = ReadAll(*spool);  // from acked + 1: 5..7 were read, never acked
  ASSERT_EQ(rest.size(), 6u);
  EXPECT_EQ(rest.front().seq, 5u);
  EXPECT_EQ(rest.front().payload, Payload(5));
  ASSERT_NO_FATAL_FAILURE(AppendN(*spool, 11, 12));
  rest = ReadAll(*spool);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest.back().payload, Payload(12));
}

TEST_F(SpoolTest, AReadStopsAtItsByteBudget) {
  auto spool = Open();
  ASSERT_NO_FATAL_FAILURE(AppendN(*spool, 1, 10, 1000));
  std::vector<SpoolEntry> batch;
  ASSERT_OK(spool->Read(10, UINT64_MAX, batch, 2500));
  EXPECT_EQ(batch.size(), 3u);  // the one that reaches the budget is taken
  ASSERT_OK(spool->Read(10, UINT64_MAX, batch, 10));
  EXPECT_EQ(batch.size(), 1u);  // never none
  EXPECT_EQ(batch[0].seq, 4u);
}

TEST_F(SpoolTest, TheInFlightBatchRangeSurvivesARestart) {
  {
    auto spool = Open();
    ASSERT_NO_FATAL_FAILURE(AppendN(*spool, 1, 10));
    std::vector<SpoolEntry> batch;
    ASSERT_OK(spool->Read(5, UINT64_MAX, batch));
    ASSERT_OK(spool->BeginBatch({1, 5}));
  }  // crashed before the answer
  {
    auto spool = Open();
    std::optional<SpoolBatch> pending = spool->pending_batch();
    ASSERT_TRUE(pending);
    EXPECT_EQ(pending->first, 1u);
    EXPECT_EQ(pending->last, 5u);
    ASSERT_OK(spool->Ack(5));
    EXPECT_FALSE(spool->pending_batch());
  }
  auto spool = Open();
  EXPECT_FALSE(spool->pending_batch());
  EXPECT_EQ(spool->acked(), 5u);
}

TEST_F(SpoolTest, ATornTailIsCutOffNotFatal) {
  {
    auto spool = Open();
    ASSERT_NO_FATAL_FAILURE(AppendN(*spool, 1, 5));
  }
  ASSERT_EQ(Segments().size(), 1u);
  const fs::path segment = Segments()[0];
  const auto whole = fs::file_size(segment);
  {
    // Half of a sixth entry: a header promising 100 bytes, then 10 of them.
    std::ofstream out(segment, std::ios::binary | std::ios::app);
    const uint32_t length = 100;
    const uint32_t crc = 0;
    const uint64_t seq = 6;
    out.write(reinterpret_cast<const char*>(&length), 4);
    out.write(reinterpret_cast<const char*>(&crc), 4);
    out.write(reinterpret_cast<const char*>(&seq), 8);
    out << "0123456789";
  }
  {
    auto spool = Open();
    ASSERT_TRUE(spool);
    EXPECT_EQ(spool->counters().truncated_bytes, 26u);
    EXPECT_EQ(fs::file_size(segment), whole);
    EXPECT_EQ(spool->last_seq(), 5u);
    EXPECT_EQ(ReadAll(*spool).size(), 5u);
    ASSERT_NO_FATAL_FAILURE(AppendN(*spool, 6, 8));
  }
  auto spool = Open();
  EXPECT_EQ(spool->counters().truncated_bytes, 0u);
  std::vector<SpoolEntry> all = ReadAll(*spool);
  ASSERT_EQ(all.size(), 8u);
  EXPECT_EQ(all[5].payload, Payload(6));
}

TEST_F(SpoolTest, ABadChecksumInTheLastEntryIsCutOff) {
  {
    auto spool = Open();
    ASSERT_NO_FATAL_FAILURE(AppendN(*spool, 1, 3));
  }
  const fs::path segment = Segments()[0];
  {
    std::fstream f(segment, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(fs::file_size(segment) - 1));
    f.put('#');  // the last payload byte
  }
  auto spool = Open();
  EXPECT_EQ(spool->counters().truncated_bytes, Spool::kHeaderBytes + 100);
  std::vector<SpoolEntry> all = ReadAll(*spool);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(spool->last_seq(), 2u);
}

TEST_F(SpoolTest, ADamagedOlderSegmentIsSkippedAndCounted) {
  options_.segment_bytes = 10 * (Spool::kHeaderBytes + 100);  // 10 entries a segment
  {
    auto spool = Open();
    ASSERT_NO_FATAL_FAILURE(AppendN(*spool, 1, 30));
  }
  ASSERT_EQ(Segments().size(), 3u);
  {
    // Entry 3's payload in the first segment.
    std::fstream f(Segments()[0], std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(2 * (Spool::kHeaderBytes + 100) + Spool::kHeaderBytes + 5));
    f.put('#');
  }
  auto spool = Open();
  std::vector<SpoolEntry> all = ReadAll(*spool);
  ASSERT_EQ(all.size(), 22u);  // 1, 2, then 11..30
  EXPECT_EQ(all[1].seq, 2u);
  EXPECT_EQ(all[2].seq, 11u);
  EXPECT_EQ(spool->counters().corrupt, 8u);
}

TEST_F(SpoolTest, WhenFullTheOldestAreDroppedAndCounted) {
  options_.max_bytes = 20 * 1024;
  options_.segment_bytes = 4 * 1024;
  auto spool = Open();
  constexpr uint64_t kN = 1000;  // 116 KB of entries into a 20 KB spool
  for (uint64_t i = 1; i <= kN; ++i) {
    ASSERT_OK(spool->Append(Payload(i)));
    if (spool->NeedsReclaim()) ASSERT_OK(spool->Reclaim());
  }
  ASSERT_OK(spool->Flush());
  EXPECT_LE(spool->bytes(), options_.max_bytes + options_.segment_bytes);
  std::vector<SpoolEntry> kept = ReadAll(*spool);
  ASSERT_FALSE(kept.empty());
  const SpoolCounters counters = spool->counters();
  EXPECT_EQ(counters.dropped + kept.size(), kN);
  EXPECT_GT(counters.dropped, kN / 2);
  // What is kept is the newest, contiguous, intact.
  EXPECT_EQ(kept.back().seq, kN);
  for (size_t i = 0; i < kept.size(); ++i) {
    EXPECT_EQ(kept[i].seq, kN - kept.size() + 1 + i);
    EXPECT_EQ(kept[i].payload, Payload(kept[i].seq));
  }
}

TEST_F(SpoolTest, EntriesAlreadyReadAreNotCountedAsDropped) {
  options_.max_bytes = 8 * 1024;
  options_.segment_bytes = 2 * 1024;
  auto spool = Open();
  ASSERT_NO_FATAL_FAILURE(AppendN(*spool, 1, 10));
  std::vector<SpoolEntry> in_flight;
  ASSERT_OK(spool->Read(10, UINT64_MAX, in_flight));  // the sender holds 1..10
  ASSERT_NO_FATAL_FAILURE(AppendN(*spool, 11, 200));
  ASSERT_OK(spool->Reclaim());
  const std::vector<SpoolEntry> rest = ReadAll(*spool);
  EXPECT_EQ(spool->counters().dropped + rest.size() + in_flight.size(), 200u);
}

TEST_F(SpoolTest, AckedSegmentsAreDeleted) {
  options_.segment_bytes = 10 * (Spool::kHeaderBytes + 100);
  auto spool = Open();
  ASSERT_NO_FATAL_FAILURE(AppendN(*spool, 1, 45));
  ASSERT_EQ(ReadAll(*spool).size(), 45u);
  EXPECT_FALSE(spool->NeedsReclaim());
  ASSERT_OK(spool->Ack(25));
  EXPECT_TRUE(spool->NeedsReclaim());
  ASSERT_OK(spool->Reclaim());
  EXPECT_EQ(Segments().size(), 3u);  // 21-30, 31-40, 41-45
  ASSERT_OK(spool->Ack(45));
  ASSERT_OK(spool->Reclaim());
  EXPECT_EQ(Segments().size(), 1u);  // the one appended to is kept
  EXPECT_EQ(spool->pending(), 0u);
  EXPECT_EQ(spool->counters().dropped, 0u);
}

TEST_F(SpoolTest, ScanLeavesTheReadPositionAlone) {
  auto spool = Open();
  ASSERT_NO_FATAL_FAILURE(AppendN(*spool, 1, 6));
  std::vector<uint64_t> scanned;
  ASSERT_OK(spool->Scan(2, [&](const SpoolEntry& e) { scanned.push_back(e.seq); }));
  EXPECT_EQ(scanned, (std::vector<uint64_t>{3, 4, 5, 6}));
  EXPECT_EQ(ReadAll(*spool).size(), 6u);
}

TEST_F(SpoolTest, TheProducerIdIsMadeOnceAndKept) {
  std::string id;
  {
    auto spool = Open();
    id = spool->producer_id();
    EXPECT_EQ(id.rfind("push-", 0), 0u) << id;
  }
  auto spool = Open();
  EXPECT_EQ(spool->producer_id(), id);
}

TEST_F(SpoolTest, ATornCursorSlotFallsBackToThePreviousOne) {
  {
    auto spool = Open();
    ASSERT_NO_FATAL_FAILURE(AppendN(*spool, 1, 10));
    ASSERT_OK(spool->Ack(3));  // generation 1: slot 1
    ASSERT_OK(spool->Ack(6));  // generation 2: slot 0
  }
  {
    std::fstream f(dir_ / "cursor", std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(10);
    f.put('\x7f');  // slot 0 torn
  }
  auto spool = Open();
  EXPECT_EQ(spool->acked(), 3u);
  const std::vector<SpoolEntry> rest = ReadAll(*spool);
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(rest.front().seq, 4u);
}

}  // namespace
}  // namespace asicmon::push
