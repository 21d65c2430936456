// Bad scenario files, one kind per test: the error names the file, the place (LINE:COLUMN or a JSON pointer) and
// what was expected, and nothing is returned.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rrefsim/scenarios/scenario_json.h"

namespace rrefsim::scenarios {
namespace {

// A valid scenario; each test breaks one thing in it by replacing a unique piece of text.
const char* const kValid = R"({
  "name": "valid",
  "summary": "worker 0 creates on 1 and fetches",
  "pytorch_test": "rpc_test.py #15 test_py_udf_remote",
  "workers": 4,
  "faults": {"profile": "reorder", "overrides": ["delay_max_ms=10"]},
  "functions": [{"name": "make", "body": [{"op": "return", "value": 42}]}],
  "programs": [
    {"ops": [
      {"op": "remote", "out": "a", "to": 1, "function": "make"},
      {"op": "to_here", "out": "v", "var": "a", "expect": {"values": [42]}},
      {"op": "sleep", "duration_us": 1000},
      {"op": "barrier"}
    ]},
    {"ops": [{"op": "barrier"}]},
    {"ops": [{"op": "barrier"}]},
    {"ops": [{"op": "barrier"}]}
  ],
  "expect": {"outcome": "ok", "counters": [{"barrier": "final", "worker": 1, "owners": 1}]}
})";

std::string With(const std::string& from, const std::string& to) {
  std::string text = kValid;
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  EXPECT_EQ(text.find(from, at + 1), std::string::npos) << from << " is not unique";
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

std::string ErrorOf(const std::string& text) {
  ParsedScenario p = ParseScenarioText(text, "bad.json");
  EXPECT_FALSE(p.entry.has_value());
  return p.error;
}

// One bad input: kValid with `from` replaced by `to`, and the whole message it must be refused with.
struct Case {
  std::string from;
  std::string to;
  std::string message;
};

void ExpectRefused(const std::vector<Case>& cases) {
  for (const Case& c : cases) EXPECT_EQ(ErrorOf(With(c.from, c.to)), c.message) << "with " << c.to;
}

TEST(BadInputTest, TheValidDocumentIsValid) {
  ParsedScenario p = ParseScenarioText(kValid, "valid.json");
  ASSERT_TRUE(p.entry) << p.error;
  EXPECT_EQ(p.entry->scenario.counters.size(), 1u);
}

TEST(BadInputTest, TextThatIsNotJson) {
  ExpectRefused({{R"("workers": 4,)", R"("workers": ,)",
                  "bad.json:5:14: invalid JSON: syntax error while parsing value - unexpected ','; expected '[', '{', "
                  "or a literal"}});
  EXPECT_EQ(ErrorOf(""), "bad.json:1:1: invalid JSON: syntax error while parsing value - unexpected end of input; "
                         "expected '[', '{', or a literal");
  EXPECT_EQ(ErrorOf(std::string(kValid) + "]"),
            "bad.json:20:2: invalid JSON: syntax error while parsing value - unexpected ']'; expected end of input");
}

TEST(BadInputTest, AWrongType) {
  ExpectRefused({
      {R"("workers": 4,)", R"("workers": "4",)",
       "bad.json: /workers: the string \"4\" (expected the world size, an integer from 1 to 64)"},
      {R"("duration_us": 1000)", R"("duration_us": 1000.5)",
       "bad.json: /programs/0/ops/2/duration_us: the number 1000.5 (expected a duration in microseconds, an integer "
       "from 0 to 1000000000000)"},
      {R"({"ops": [{"op": "barrier"}]}
  ],)", R"([]],)",
       "bad.json: /programs/3: an array (expected a program: {\"ops\": [...]})"},
  });
}

TEST(BadInputTest, AMissingField) {
  ExpectRefused({
      {R"("summary": "worker 0 creates on 1 and fetches",)", "",
       "bad.json: /summary: missing (expected one line saying what the scenario exercises)"},
      {R"("to": 1, )", "",
       "bad.json: /programs/0/ops/0/to: missing (expected the destination worker, an integer expression)"},
  });
}

TEST(BadInputTest, AnUnknownField) {
  ExpectRefused({
      {R"("duration_us": 1000)", R"("duration_us": 1000, "tmieout_us": 5)",
       "bad.json: /programs/0/ops/2/tmieout_us: an unknown field (expected one of: op, duration_us)"},
      {R"("workers": 4,)", R"("workers": 4, "world": 4,)",
       "bad.json: /world: an unknown field (expected one of: name, summary, pytorch_test, workers, pool_size, "
       "graceful_shutdown, faults, functions, programs, expect)"},
  });
}

TEST(BadInputTest, AKeyGivenTwice) {
  ExpectRefused({{R"("to": 1,)", R"("to": 1, "to": 2,)",
                  "bad.json: /programs/0/ops/0/to: a key that appears twice in its object (expected each key once)"}});
}

TEST(BadInputTest, AnUnknownName) {
  ExpectRefused({
      {R"("outcome": "ok")", R"("outcome": "deadlocked")",
       "bad.json: /expect/outcome: an unknown name \"deadlocked\" (expected how the run ends, one of: ok, deadlock, "
       "no_quiescence, worker_abort)"},
      {R"({"op": "barrier"}
    ]},)", R"({"op": "barier"}]},)",
       "bad.json: /programs/0/ops/3/op: an unknown op \"barier\" (expected one of: remote, rpc_sync, to_here, expect, "
       "del, local, pack, return, raise, if_positive, barrier, sleep, shutdown)"},
      {R"("profile": "reorder")", R"("profile": "lossless")",
       "bad.json: /faults/profile: an unknown name \"lossless\" (expected a fault profile, one of: reorder, "
       "faulty-agent, lossy, chaos, swarm)"},
      {R"("outcome": "ok")", R"("outcome": "ok", "protocol_errors": ["A24"])",
       "bad.json: /expect/protocol_errors/0: \"A24\" (expected an assertion code, A1 to A23)"},
  });
}

TEST(BadInputTest, ANumberOutOfRange) {
  ExpectRefused({
      {R"("workers": 4,)", R"("workers": 0,)",
       "bad.json: /workers: 0 is out of range (expected the world size, an integer from 1 to 64)"},
      {R"("workers": 4,)", R"("workers": 18446744073709551615,)",
       "bad.json: /workers: 18446744073709551615 is out of range (expected the world size, an integer from 1 to 64)"},
      {R"("duration_us": 1000)", R"("duration_us": -1)",
       "bad.json: /programs/0/ops/2/duration_us: -1 is out of range (expected a duration in microseconds, an integer "
       "from 0 to 1000000000000)"},
      {R"("to": 1,)", R"("to": 4,)",
       "bad.json: /programs/0/ops/0/to: 4 is out of range (expected a worker of this world, 0 to 3; an expression "
       "such as {\"args\": 0} reaches others when it runs)"},
      {R"("worker": 1,)", R"("worker": 4,)",
       "bad.json: /expect/counters/0/worker: 4 is out of range (expected a worker of this world, an integer from 0 "
       "to 3)"},
  });
}

TEST(BadInputTest, ABadFaultKey) {
  ExpectRefused({
      {R"("delay_max_ms=10")", R"("delay_max_ms=10", "dorp=0.1")",
       "bad.json: /faults/overrides/1: unknown fault key 'dorp' (expected one of: drop, duplicate, long_delay, "
       "partition, delay_min_ms, delay_max_ms, long_delay_max_ms, partition_max_ms, heal_min_ms, heal_max_ms, "
       "max_consecutive_drops, control_only, num_fail_sends, messages_to_fail, messages_to_delay)"},
      {R"("delay_max_ms=10")", R"("drop=2")",
       "bad.json: /faults/overrides/0: fault key 'drop': 2 is out of range (expected a probability in [0, 1])"},
  });
}

TEST(BadInputTest, AnUndefinedFunctionOrVariable) {
  ExpectRefused({
      {R"("function": "make")", R"("function": "mkae")",
       "bad.json: /programs/0/ops/0/function: \"mkae\", which is not defined (expected one of: make)"},
      {R"("var": "a",)", R"("var": "b",)",
       "bad.json: /programs/0/ops/1/var: the variable \"b\", which no earlier op assigns (expected a name an earlier "
       "op gives as \"out\", or \"args\" in a function)"},
  });
}

TEST(BadInputTest, NestingTooDeep) {
  std::string deep = R"({"op": "barrier"})";
  for (int i = 0; i < 40; ++i) deep = R"({"op": "if_positive", "value": 1, "then": [)" + deep + "]}";
  const std::string error = ErrorOf(With(R"({"op": "barrier"}
    ]},)", deep + "]},"));
  EXPECT_EQ(error.substr(0, 40), "bad.json: /programs/0/ops/3/then/0/then/");
  EXPECT_NE(error.find(": a value nested deeper than 64 levels (expected at most 64)"), std::string::npos) << error;
}

// Every one-byte change of a catalog file either reads or is refused with a message naming the file: the reader never
// throws, whatever the input.
TEST(BadInputTest, DamagedCatalogFilesAreReadOrRefusedNeverThrown) {
  std::uint64_t state = 42;
  auto next = [&state](std::uint64_t n) {  // a fixed LCG: the same damage on every run
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (state >> 33) % n;
  };
  const char kBytes[] = "{}[]\",:0123456789-.eE aftnul\\\n\xff";
  for (const CatalogEntry& e : Catalog()) {
    const std::string text = ScenarioToJson(e);
    for (int i = 0; i < 100; ++i) {
      std::string damaged = text;
      const std::size_t at = next(damaged.size());
      switch (next(3)) {
        case 0:
          damaged.erase(at, 1);
          break;
        case 1:
          damaged.insert(at, 1, kBytes[next(sizeof kBytes - 1)]);
          break;
        default:
          damaged[at] = kBytes[next(sizeof kBytes - 1)];
      }
      ParsedScenario p = ParseScenarioText(damaged, "damaged.json");
      if (!p.entry) {
        EXPECT_EQ(p.error.rfind("damaged.json:", 0), 0u) << p.error;
      }
    }
  }
}

TEST(BadInputTest, ExpectationsTheProgramsCannotMeet) {
  ExpectRefused({
      {R"("barrier": "final")", R"("barrier": 2)",
       "bad.json: /expect/counters/0: the counters expected at barrier 2 on worker 1: no program has that many "
       "barriers (at most 1)"},
      {R"({"op": "sleep", "duration_us": 1000},)", R"({"op": "shutdown"}, {"op": "shutdown"},)",
       "bad.json: /programs/0/ops/3: a second shutdown (expected at most one per program)"},
  });
}

// expect.pytorch_differences (docs/conformance.md): read and written back; a place the observation cannot name, a
// worker outside the world, a place twice, or a reason that is empty or of several lines is refused.
TEST(BadInputTest, PytorchDifferences) {
  const std::string outcome = R"("expect": {"outcome": "ok", )";
  const std::string one = R"("pytorch_differences": [{"observation": "worker 0 program 0 op 1", "reason": "why"}], )";
  ParsedScenario p = ParseScenarioText(With(outcome, outcome + one), "valid.json");
  ASSERT_TRUE(p.entry) << p.error;
  ASSERT_EQ(p.entry->pytorch_differences.size(), 1u);
  EXPECT_EQ(p.entry->pytorch_differences[0].observation, "worker 0 program 0 op 1");
  EXPECT_EQ(ParseScenarioText(ScenarioToJson(*p.entry), "again.json").entry, p.entry);
  const std::string place = "\"outcome\" or \"worker W PLACE\" with PLACE one of: program N op I, FUNCTION on N op I, "
                            "barrier K debug, barrier K, shutdown";
  auto differences = [&](const std::string& list) { return outcome + R"("pytorch_differences": )" + list + ", "; };
  ExpectRefused({
      {outcome, differences(R"([{"observation": "program 0 op 1", "reason": "why"}])"),
       "bad.json: /expect/pytorch_differences/0/observation: \"program 0 op 1\" (expected " + place + ")"},
      {outcome, differences(R"([{"observation": "worker 4 barrier 1 debug", "reason": "why"}])"),
       "bad.json: /expect/pytorch_differences/0/observation: worker 4 is out of range (expected a worker of this "
       "world, 0 to 3)"},
      {outcome,
       differences(R"([{"observation": "outcome", "reason": "a"}, {"observation": "outcome", "reason": "b"}])"),
       "bad.json: /expect/pytorch_differences/1/observation: \"outcome\" a second time (expected each observation "
       "once)"},
      {outcome, differences(R"([{"observation": "outcome", "reason": "a\nb"}])"),
       "bad.json: /expect/pytorch_differences/0/reason: a text of several lines (expected one line: why PyTorch "
       "differs, with the PyTorch source behind it)"},
  });
}

}  // namespace
}  // namespace rrefsim::scenarios
