// Helpers for the generator's tests: a canonical text dump of a scenario (to compare two scenarios and to show a
// failing one), a run with the default configuration, and a check of its result.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>

#include "rrefsim/sim/scenario.h"
#include "rrefsim/scenarios/runner.h"
#include "rrefsim/sim/world.h"

namespace rrefsim::scenarios::testing {

inline std::string DumpInt(const sim::IntExpr& e) {
  const char* base = e.base == sim::IntExpr::Base::kLiteral ? "" : e.base == sim::IntExpr::Base::kArgs ? "args" : "self";
  std::ostringstream out;
  out << base << (e.base == sim::IntExpr::Base::kLiteral ? e.value : 0) << '+' << e.add
      << (e.modulo_world ? "%world" : "");
  return out.str();
}

inline const char* OpName(sim::Op::Kind kind) {
  static const char* const kNames[] = {"remote", "rpc_sync", "to_here", "expect", "del",    "local",
                                       "pack",   "return",   "raise",   "if_pos", "barrier", "sleep"};
  return kNames[static_cast<int>(kind)];
}

// Every field of every op, one op per line, nested blocks indented: two scenarios with the same dump are the same.
inline void DumpOps(std::ostream& out, const std::vector<sim::Op>& ops, const std::string& indent) {
  for (const sim::Op& op : ops) {
    out << indent << OpName(op.kind) << " out=" << op.out << " var=" << op.var << '[' << op.index << ']'
        << " to=" << DumpInt(op.to) << " payload=" << DumpInt(op.payload) << " fn=" << op.function << " args=";
    for (const std::string& a : op.args) out << a << ',';
    out << " timeout=" << (op.timeout ? std::to_string(*op.timeout) : "-") << " kind=" << static_cast<int>(op.call_kind)
        << " type=" << op.return_type << " text=" << op.text << " sleep=" << op.duration << '\n';
    if (!op.then_ops.empty() || !op.else_ops.empty()) {
      out << indent << " then:\n";
      DumpOps(out, op.then_ops, indent + "  ");
      out << indent << " else:\n";
      DumpOps(out, op.else_ops, indent + "  ");
    }
  }
}

inline std::string Dump(const sim::Scenario& s) {
  std::ostringstream out;
  out << "scenario " << s.name << " workers=" << s.workers << " pool=" << s.pool_size
      << " graceful=" << s.graceful_shutdown << '\n';
  for (std::size_t p = 0; p < s.programs.size(); ++p) {
    out << "program " << p << '\n';
    DumpOps(out, s.programs[p].ops, "  ");
  }
  for (const sim::FunctionDef& f : s.functions) {
    out << "function " << f.name << '\n';
    DumpOps(out, f.body.ops, "  ");
  }
  return out.str();
}

// The catalog entry `rrefsim run --generate` makes of a generated scenario (cli/src/campaign.cc), so its trace
// replays as the command line's do.
inline CatalogEntry GeneratedEntry(const sim::Scenario& s, const std::string& profile = "reorder") {
  CatalogEntry entry;
  entry.name = "generated";
  entry.summary = "generated from RapidCheck's picks";  // a trace needs one (rrefsim replay refuses an empty one)
  entry.faults = profile;
  entry.scenario = s;
  entry.scenario.name = entry.name;
  return entry;
}

// A run as the tests want it: PyTorch mode, random scheduling from `seed`, every checker on; by default the reorder
// profile.
inline CheckedRun RunWithSeed(const sim::Scenario& s, std::uint64_t seed, const sim::RunConfig& config = {}) {
  sim::RandomChooser chooser(seed);
  return RunChecked(GeneratedEntry(s), config, chooser);
}

// "" when no checker fired, the run ended kOk with every observation as expected and no error raised to the
// application, else what went wrong. (An error is observed with expected_ok set, since some scenarios expect one; a
// generated scenario never does.)
inline std::string Problems(const CheckedRun& checked) {
  const sim::RunResult& r = checked.run;
  std::string problems;
  for (const checkers::Violation& v : checked.violations) problems += v.checker + ": " + v.text + "\n";
  if (r.outcome != sim::Outcome::kOk) problems += std::string("outcome ") + sim::OutcomeName(r.outcome) + ": " + r.detail + "\n";
  for (const sim::Observation& o : r.observations) {
    if (!o.expected_ok || o.what.starts_with("error")) problems += "worker " + std::to_string(o.worker) + " " + o.where + ": " + o.what + "\n";
  }
  return problems;
}

}  // namespace rrefsim::scenarios::testing
