// Reading a scenario document: the top level, faults and expectations here, ops in op_format.cc, and the checks
// that need the whole scenario (names, destinations, placement) in scenario_check.cc.
#include <fstream>
#include <regex>
#include <sstream>

#include "json_reader.h"
#include "op_format.h"
#include "rrefsim/checkers/checker.h"
#include "rrefsim/scenarios/scenario_json.h"
#include "rrefsim/sim/network.h"
#include "scenario_check.h"

namespace rrefsim::scenarios {
namespace {

using detail::InputError;
using detail::Node;
using detail::Object;

constexpr int kMaxWorkers = 64;
constexpr int kMaxPoolSize = 1024;
constexpr std::int64_t kMaxCounter = 1'000'000;

const sim::Outcome kOutcomes[] = {sim::Outcome::kOk, sim::Outcome::kDeadlock, sim::Outcome::kNoQuiescence,
                                  sim::Outcome::kWorkerAbort};

template <class Names>
std::string OneOf(const Names& names) {
  std::string text;
  for (const auto& n : names) text += (text.empty() ? "" : ", ") + std::string(n);
  return "one of: " + text;
}

std::string ReadChoice(const Node& node, const std::vector<std::string>& names, const std::string& meaning) {
  const std::string expected = meaning + ", " + OneOf(names);
  std::string name = node.String(expected);
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    node.Fail("an unknown name \"" + name + "\" (expected " + expected + ")");
  }
  return name;
}

sim::Outcome ReadOutcome(const Node& node) {
  std::vector<std::string> names;
  for (sim::Outcome o : kOutcomes) names.emplace_back(sim::OutcomeName(o));
  const std::string name = ReadChoice(node, names, "how the run ends");
  for (sim::Outcome o : kOutcomes) {
    if (name == sim::OutcomeName(o)) return o;
  }
  return sim::Outcome::kOk;  // unreachable: ReadChoice accepted one of the names
}

std::string ReadSummary(const Node& node) {
  std::string text = node.NonEmptyString("one line saying what the scenario exercises");
  if (text.find('\n') != std::string::npos) node.Fail("a text of several lines (expected one line)");
  return text;
}

// "rpc_test.py #25 test_rref_forward_chain" (rref-cases.md §1's numbering), or "" for none.
std::string ReadPytorchTest(const Node& node) {
  static const std::regex kCitation(R"([a-z_/]+\.py #[0-9]+ \S.*)");
  const std::string expected = "\"<file>.py #<number in rref-cases.md §1> <test name>\", or \"\" for none";
  std::string text = node.String(expected);
  if (!text.empty() && !std::regex_match(text, kCitation)) node.Fail("\"" + text + "\" (expected " + expected + ")");
  return text;
}

// The profile, then the overrides checked by the simulator's own parser; an error points at the override it names.
void ReadFaults(const Node& node, CatalogEntry& e) {
  Object o(node, {"profile", "overrides"}, "the fault settings: {\"profile\": name, \"overrides\": [\"KEY=VALUE\"]}");
  e.faults = ReadChoice(o.Required("profile", "a fault profile"), sim::FaultProfiles(), "a fault profile");
  std::vector<Node> items;
  if (auto overrides = o.Optional("overrides")) items = overrides->Array("an array of \"KEY=VALUE\" texts");
  for (const Node& item : items) e.fault_overrides.push_back(item.String("a \"KEY=VALUE\" text"));
  sim::FaultConfigResult config = sim::MakeFaultConfig(e.faults, e.fault_overrides);
  if (config.config) return;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string& item = e.fault_overrides[i];
    const std::string key = item.substr(0, item.find('='));
    const bool named = config.error.find("'" + key + "'") != std::string::npos ||
                       config.error.find("'" + item + "'") != std::string::npos;
    if (named) items[i].Fail(config.error);
  }
  o.node().Fail(config.error);
}

sim::CounterExpectation ReadCounters(const Node& node, int workers) {
  Object o(node, {"barrier", "worker", "owners", "forks", "pending_users", "pending_futures"},
           "the debug counters a worker shows at a barrier: {\"barrier\": n or \"final\", \"worker\": w, "
           "\"owners\": n, ...}");
  sim::CounterExpectation c;
  Node barrier = o.Required("barrier", "a program barrier: its number from 1, or \"final\"");
  if (barrier.json().is_string()) {
    if (barrier.json().get<std::string>() != "final") barrier.Expected("a barrier number from 1, or \"final\"");
    c.barrier = sim::CounterExpectation::kFinal;
  } else {
    c.barrier = static_cast<int>(barrier.Integer(1, kMaxCounter, "a barrier number, or \"final\""));
  }
  c.worker = static_cast<int>(o.Required("worker", "a worker").Integer(0, workers - 1, "a worker of this world"));
  auto counter = [&](const char* key, std::optional<std::int64_t>& field) {
    if (auto n = o.Optional(key)) field = n->Integer(0, kMaxCounter, "a count");
  };
  counter("owners", c.owners);
  counter("forks", c.forks);
  counter("pending_users", c.pending_users);
  counter("pending_futures", c.pending_futures);
  if (!c.owners && !c.forks && !c.pending_users && !c.pending_futures) {
    node.Fail("no counter (expected at least one of owners, forks, pending_users, pending_futures)");
  }
  return c;
}

// "outcome", or "worker W PLACE" with W a worker of this world and PLACE a place the observation names
// (docs/conformance.md): "program 0 op 3", "fetch on 2 op 0", "barrier 1 debug", "barrier 1", "shutdown".
void ReadPytorchDifferences(const Node& node, CatalogEntry& e) {
  static const std::regex kPlace(
      "outcome|worker (0|[1-9][0-9]*) (program [0-9]+ op [0-9]+|[A-Za-z_][A-Za-z0-9_]* on [0-9]+ op [0-9]+|"
      "barrier [1-9][0-9]*( debug)?|shutdown)");
  const std::string expected_place =
      "\"outcome\" or \"worker W PLACE\" with PLACE one of: program N op I, FUNCTION on N op I, barrier K debug, "
      "barrier K, shutdown";
  for (const Node& d : node.Array("an array of {\"observation\": ..., \"reason\": ...}")) {
    Object o(d, {"observation", "reason"}, "a difference: {\"observation\": ..., \"reason\": ...}");
    PytorchDifference difference;
    Node place = o.Required("observation", expected_place);
    difference.observation = place.String(expected_place);
    std::smatch m;
    if (!std::regex_match(difference.observation, m, kPlace)) {
      place.Fail("\"" + difference.observation + "\" (expected " + expected_place + ")");
    }
    if (m[1].matched && std::stoll(m[1].str()) >= e.scenario.workers) {
      place.Fail("worker " + m[1].str() + " is out of range (expected a worker of this world, 0 to " +
                 std::to_string(e.scenario.workers - 1) + ")");
    }
    for (const PytorchDifference& earlier : e.pytorch_differences) {
      if (earlier.observation == difference.observation) {
        place.Fail("\"" + difference.observation + "\" a second time (expected each observation once)");
      }
    }
    const std::string why = "one line: why PyTorch differs, with the PyTorch source behind it";
    Node reason = o.Required("reason", why);
    difference.reason = reason.NonEmptyString(why);
    if (difference.reason.find('\n') != std::string::npos) {
      reason.Fail("a text of several lines (expected " + why + ")");
    }
    e.pytorch_differences.push_back(std::move(difference));
  }
}

void ReadExpect(const Node& node, CatalogEntry& e) {
  Object o(node, {"outcome", "protocol_errors", "violations", "counters", "pytorch_differences"},
           "the expectations: {\"outcome\": ..., \"protocol_errors\": [...], \"violations\": [...], "
           "\"counters\": [...], \"pytorch_differences\": [...]}");
  e.expected = ReadOutcome(o.Required("outcome", "how the run ends: ok, deadlock, no_quiescence or worker_abort"));
  static const std::regex kCode("A([1-9]|1[0-9]|2[0-3])");
  if (auto codes = o.Optional("protocol_errors")) {
    for (const Node& code : codes->Array("an array of assertion codes")) {
      std::string text = code.String("an assertion code of rref-protocol.md §6, A1 to A23");
      if (!std::regex_match(text, kCode)) code.Fail("\"" + text + "\" (expected an assertion code, A1 to A23)");
      if (std::find(e.expected_protocol_errors.begin(), e.expected_protocol_errors.end(), text) !=
          e.expected_protocol_errors.end()) {
        code.Fail("\"" + text + "\" a second time (expected each code once)");
      }
      e.expected_protocol_errors.push_back(text);
    }
  }
  if (auto violations = o.Optional("violations")) {
    const std::vector<std::string>& ids = checkers::CheckerIds();
    for (const Node& v : violations->Array("an array of checker ids")) {
      std::string id = v.String("a checker id (docs/checkers.md)");
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) {
        v.Fail("\"" + id + "\" (expected a checker id of docs/checkers.md, e.g. parent_pinned_until_child_confirmed)");
      }
      if (std::find(e.expected_violations.begin(), e.expected_violations.end(), id) != e.expected_violations.end()) {
        v.Fail("\"" + id + "\" a second time (expected each checker once)");
      }
      e.expected_violations.push_back(id);
    }
  }
  if (auto counters = o.Optional("counters")) {
    for (const Node& c : counters->Array("an array of counter expectations")) {
      e.scenario.counters.push_back(ReadCounters(c, e.scenario.workers));
    }
  }
  if (auto differences = o.Optional("pytorch_differences")) ReadPytorchDifferences(*differences, e);
}

void ReadFunctions(const Node& node, sim::Scenario& s) {
  for (const Node& f : node.Array("an array of functions")) {
    Object o(f, {"name", "body"}, "a function: {\"name\": ..., \"body\": [ops]}");
    sim::FunctionDef def;
    def.name = detail::ReadName(o.Required("name", "the function's name"), "function name");
    def.body.ops = detail::ReadOps(o.Required("body", "the function's ops, an array"));
    s.functions.push_back(std::move(def));
  }
}

void ReadPrograms(const Node& node, sim::Scenario& s) {
  std::vector<Node> programs = node.Array("an array with one program per worker");
  if (static_cast<int>(programs.size()) != s.workers) {
    node.Fail(std::to_string(programs.size()) + " programs (expected one per worker: " + std::to_string(s.workers) +
              ")");
  }
  for (const Node& p : programs) {
    Object o(p, {"ops"}, "a program: {\"ops\": [...]}");
    sim::Block block;
    block.ops = detail::ReadOps(o.Required("ops", "the program's ops, an array"));
    s.programs.push_back(std::move(block));
  }
}

CatalogEntry ReadEntry(const Node& root) {
  Object o(root,
           {"name", "summary", "pytorch_test", "workers", "pool_size", "graceful_shutdown", "faults", "functions",
            "programs", "expect"},
           "a scenario: an object");
  CatalogEntry e;
  static const std::regex kName("[A-Za-z0-9_.-]+");
  Node name = o.Required("name", "the scenario's name");
  e.name = name.NonEmptyString("the scenario's name: letters, digits, _ . and -");
  if (!std::regex_match(e.name, kName)) name.Fail("\"" + e.name + "\" (expected letters, digits, _ . and -)");
  e.summary = ReadSummary(o.Required("summary", "one line saying what the scenario exercises"));
  e.pytorch_test = ReadPytorchTest(o.Required("pytorch_test", "the PyTorch test it mirrors, or \"\""));
  sim::Scenario& s = e.scenario;
  s.name = e.name;
  s.workers = static_cast<int>(o.Required("workers", "the world size").Integer(1, kMaxWorkers, "the world size"));
  if (auto n = o.Optional("pool_size")) {
    s.pool_size = static_cast<int>(n->Integer(1, kMaxPoolSize, "handlers per worker"));
  }
  if (auto n = o.Optional("graceful_shutdown")) s.graceful_shutdown = n->Boolean();
  ReadFaults(o.Required("faults", "the fault settings, {\"profile\": ...}"), e);
  if (auto n = o.Optional("functions")) ReadFunctions(*n, s);
  ReadPrograms(o.Required("programs", "one program per worker"), s);
  ReadExpect(o.Required("expect", "the expectations, {\"outcome\": ...}"), e);
  return e;
}

}  // namespace

ParsedScenario ParseScenarioText(std::string_view text, const std::string& origin) {
  ParsedScenario result;
  try {
    detail::Document doc = detail::ParseDocument(text);
    if (!doc.syntax_error.empty()) {
      result.error = origin + ":" + doc.syntax_error;
      return result;
    }
    CatalogEntry entry = ReadEntry(Node(doc.root, ""));
    detail::CheckScenario(entry);
    result.entry = std::move(entry);
  } catch (const InputError& e) {
    result.error = origin + ": " + detail::ShowPath(e.path()) + ": " + e.what();
  }
  return result;
}

ParsedScenario ParseScenarioFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {std::nullopt, path + ": cannot open the file (expected a readable JSON scenario file)"};
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return {std::nullopt, path + ": cannot read the file"};
  return ParseScenarioText(text.str(), path);
}

}  // namespace rrefsim::scenarios
