// Store connections shared by control's threads: SQLite handles are not
// shared between threads, and opening one per request would cost a
// migration check, so each caller borrows an idle one (or opens one) and
// hands it back.
//
// Thread-safety: With may be called from any thread; the borrowed StoreDb
// is the caller's alone for the call.
#pragma once

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "asicmon/status.h"
#include "asicmon/store_db.h"

namespace asicmon::control {

class DbPool {
 public:
  explicit DbPool(StoreOptions options) : options_(std::move(options)) {}

  // fn(store) with a borrowed connection; the store's open error (a Status,
  // which every Result converts from) when none can be opened.
  template <typename Fn>
  auto With(Fn&& fn) -> decltype(fn(std::declval<StoreDb&>())) {
    std::unique_ptr<StoreDb> db;
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        db = std::move(free_.back());
        free_.pop_back();
      }
    }
    if (!db) {
      Result<std::unique_ptr<StoreDb>> opened = StoreDb::Open(options_);
      if (!opened.ok()) return opened.status();
      db = std::move(*opened);
    }
    auto result = fn(*db);
    std::lock_guard lock(mutex_);
    free_.push_back(std::move(db));
    return result;
  }

 private:
  StoreOptions options_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<StoreDb>> free_;
};

}  // namespace asicmon::control
