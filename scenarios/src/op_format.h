// Internal: the JSON form of ops, read and written from one table of op kinds and their fields, so the reader, the
// writer and docs/scenario-format.md cannot drift apart. An op is {"op": "<kind>", <field>: ...}; which fields a kind
// takes, and which of them it requires, is in Kinds().
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "json_reader.h"
#include "rrefsim/sim/scenario.h"

namespace rrefsim::scenarios::detail {

using OrderedJson = nlohmann::ordered_json;

// Bounds that keep every number far from overflow in the interpreter's arithmetic (a payload plus an `add` per hop of
// a run of at most 10^6 steps stays far inside int64) and durations inside what a run can reach.
constexpr std::int64_t kMaxInteger = 1'000'000'000'000;     // |literal|, |add|, allowed values
constexpr std::int64_t kMaxDurationUs = 1'000'000'000'000;  // about 11.6 days
constexpr std::int64_t kMaxIndex = 1'000'000;               // to_here's index

struct KindFormat {
  const char* name;
  sim::Op::Kind kind;
  std::vector<std::string> fields;    // in the order they are written
  std::vector<std::string> required;  // the others may be left out: they take their default
};
const std::vector<KindFormat>& Kinds();
const KindFormat& FormatOf(sim::Op::Kind kind);
std::string KindNames();  // "remote, rpc_sync, ..." for error texts

std::vector<sim::Op> ReadOps(const Node& node);
OrderedJson WriteOps(const std::vector<sim::Op>& ops);

sim::IntExpr ReadIntExpr(const Node& node);
OrderedJson WriteIntExpr(const sim::IntExpr& e);

// Variable and function names: identifiers ([A-Za-z_][A-Za-z0-9_]*).
std::string ReadName(const Node& node, const std::string& meaning);

}  // namespace rrefsim::scenarios::detail
