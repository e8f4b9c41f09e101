// Every family's model rows joined, for the farm plan and GetModel.
#include "models.h"

#include <algorithm>
#include <vector>

namespace asicmon::fakefarm {
namespace {

// The family tables one after the other, in ModelId order.
const std::vector<ModelSpec>& Joined() {
  static const std::vector<ModelSpec> all = [] {
    std::vector<ModelSpec> out;
    for (std::span<const ModelSpec> family :
         {AntminerModels(), AvalonModels(), WhatsminerModels(), BraiinsModels(), LuxosModels(),
          EpicModels(), BitaxeModels(), VnishModels()}) {
      out.insert(out.end(), family.begin(), family.end());
    }
    return out;
  }();
  return all;
}

}  // namespace

std::span<const ModelSpec> AllModels() { return Joined(); }

std::vector<ModelId> DefaultModels() {
  std::vector<ModelId> ids;
  for (const ModelSpec& m : Joined()) {
    if (!HasHttpApi(m.id)) ids.push_back(m.id);
  }
  return ids;
}

const ModelSpec& GetModel(ModelId id) { return Joined()[static_cast<size_t>(id)]; }

const ModelSpec* FindModel(std::string_view key) {
  const std::vector<ModelSpec>& all = Joined();
  const auto it =
      std::find_if(all.begin(), all.end(), [&](const ModelSpec& m) { return m.key == key; });
  return it == all.end() ? nullptr : &*it;
}

}  // namespace asicmon::fakefarm
