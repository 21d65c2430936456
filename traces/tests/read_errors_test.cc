// ReadTrace on bad input: one test per kind of error, each checking that the message names the origin, the place
// (line:column or JSON path) and what was expected. Inputs are a golden trace with one edit.
#include <gtest/gtest.h>

#include "trace_test_util.h"

namespace rrefsim::traces {
namespace {

class ReadErrors : public ::testing::Test {
 protected:
  void SetUp() override { text_ = testing::ReadText(testing::GoldenPath(testing::kGoldenCases[0].file)); }

  // The golden text with the first `from` replaced by `to`.
  std::string Edit(const std::string& from, const std::string& to) const {
    std::size_t at = text_.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    std::string edited = text_;
    if (at != std::string::npos) edited.replace(at, from.size(), to);
    return edited;
  }

  // Reads `text` and returns its error (failing the test if it reads).
  static std::string Error(const std::string& text) {
    ReadResult read = ReadTrace(text, "bad.json");
    EXPECT_FALSE(read.trace.has_value());
    return read.error;
  }

  std::string text_;
};

TEST_F(ReadErrors, TheGoldenTraceItselfReads) { EXPECT_TRUE(ReadTrace(text_, "good.json").trace.has_value()); }

TEST_F(ReadErrors, NotJsonNamesLineAndColumn) {
  EXPECT_EQ(Error(Edit("\"seed\": 0,", "\"seed\": 0,,")).rfind("bad.json:23:13: not valid JSON: syntax error", 0), 0u)
      << Error(Edit("\"seed\": 0,", "\"seed\": 0,,"));
  EXPECT_EQ(Error("").rfind("bad.json:1:1: not valid JSON", 0), 0u) << Error("");
  EXPECT_EQ(Error(text_.substr(0, 200)).rfind("bad.json:", 0), 0u);
}

TEST_F(ReadErrors, AWrongTypeNamesThePathAndTheExpectedType) {
  EXPECT_EQ(Error(Edit("\"seed\": 0,", "\"seed\": \"0\",")),
            "bad.json: /seed: expected an integer in [0, 18446744073709551615], got a string");
  EXPECT_EQ(Error(Edit("\"ignore_rref_leak\": true", "\"ignore_rref_leak\": 1")),
            "bad.json: /config/ignore_rref_leak: expected true or false, got the integer 1");
  EXPECT_EQ(Error(Edit("\"events\": [", "\"events\": {\"a\": 1}, \"x\": [")),
            "bad.json: /events: expected an array, got an object");
  EXPECT_EQ(Error(Edit("\"scenario\": {", "\"scenario\": \"s5\", \"y\": {")),
            "bad.json: /scenario: expected an object (the scenario), got a string");
}

TEST_F(ReadErrors, AMissingFieldIsNamed) {
  EXPECT_EQ(Error(Edit("  \"seed\": 0,\n", "")), "bad.json: /: missing field \"seed\"");
  EXPECT_EQ(Error(Edit(",\"delay_us\":3676", "")), "bad.json: /events/1: missing field \"delay_us\"");
}

TEST_F(ReadErrors, AnUnknownFieldIsRefused) {
  EXPECT_EQ(Error(Edit("\"seed\": 0,", "\"seed\": 0, \"sede\": 1,")), "bad.json: /sede: unknown field \"sede\"");
  // A field another kind of event has is unknown on this one: a delivery has no delay.
  EXPECT_EQ(Error(Edit("\"kind\":\"deliver\",\"seq\":0,", "\"kind\":\"deliver\",\"seq\":0,\"delay_us\":1,")),
            "bad.json: /events/3/delay_us: unknown field \"delay_us\"");
}

TEST_F(ReadErrors, AnUnknownMessageTypeIsRefused) {
  EXPECT_EQ(Error(Edit("\"type\":\"PYTHON_CALL\"", "\"type\":\"PYTHON_CAL\"")),
            "bad.json: /events/1/message/type: unknown message type \"PYTHON_CAL\" (expected one of PyTorch's "
            "MessageType names, e.g. RREF_FORK_REQUEST)");
}

TEST_F(ReadErrors, AnUnknownChoiceKindIsRefused) {
  EXPECT_EQ(Error(Edit("\"kind\":\"heal\"", "\"kind\":\"hael\"")),
            "bad.json: /choices/0/kind: unknown choice kind \"hael\" (expected one of step, drop, duplicate, delay, "
            "partition, heal, rate, workload)");
}

TEST_F(ReadErrors, AnUnknownRecordKindIsRefused) {
  EXPECT_EQ(Error(Edit("\"kind\":\"send\"", "\"kind\":\"sent\"")).rfind(
                "bad.json: /events/1/kind: unknown event kind \"sent\" (expected deliver, queued", 0),
            0u);
}

TEST_F(ReadErrors, OtherUnknownNamesAreRefused) {
  EXPECT_EQ(Error(Edit("\"tensorpipe\"", "\"tcp\"")),
            "bad.json: /config/retry_payload: unknown name \"tcp\" (expected tensorpipe or resend)");
  EXPECT_EQ(Error(Edit("\"checker\":\"unique_fork_ids\"", "\"checker\":\"unique_forks\"")).rfind(
                "bad.json: /verdict/violations/0/checker: unknown checker \"unique_forks\"", 0),
            0u);
  EXPECT_EQ(Error(Edit("\"type\":\"run_function\"", "\"type\":\"run\"")).rfind(
                "bad.json: /events/4/event/type: unknown core event type \"run\"", 0),
            0u);
  EXPECT_EQ(Error(Edit("\"outcome\": \"stopped\"", "\"outcome\": \"halted\"")).rfind(
                "bad.json: /verdict/outcome: unknown outcome \"halted\"", 0),
            0u);
  EXPECT_EQ(Error(Edit("\"strategy\": \"random\"", "\"strategy\": \"dfs\"")),
            "bad.json: /config/strategy: unknown strategy \"dfs\" (expected random, pct or exhaustive)");
}

TEST_F(ReadErrors, NumbersOutOfRangeAreRefused) {
  EXPECT_EQ(Error(Edit("\"worker\":2,\"fiber\":\"network\"", "\"worker\":70000,\"fiber\":\"network\"")),
            "bad.json: /events/3/worker: 70000 is out of range (expected an integer in [-1, 32767])");
  EXPECT_EQ(Error(Edit("\"seed\": 0,", "\"seed\": -1,")),
            "bad.json: /seed: -1 is out of range (expected an integer in [0, 18446744073709551615])");
  EXPECT_EQ(Error(Edit("\"seed\": 0,", "\"seed\": 18446744073709551616,")),
            "bad.json: /seed: expected an integer in [0, 18446744073709551615], got the number 1.8446744073709552e+19");
  EXPECT_EQ(Error(Edit("\"time_us\":3676", "\"time_us\":3676.5")),
            "bad.json: /events/3/time_us: expected an integer in [0, 9223372036854775807], got the number 3676.5");
  EXPECT_EQ(Error(Edit("\"options\":110001,\"pick\":42718", "\"options\":110001,\"pick\":110001")),
            "bad.json: /choices/0/pick: 110001 is out of range (expected an integer in [0, 110000])");
  EXPECT_EQ(Error(Edit("\"options\":110001", "\"options\":0")),
            "bad.json: /choices/0/options: 0 is out of range (a choice has at least one option)");
  EXPECT_EQ(Error(Edit("\"rref\":[1,0]", "\"rref\":[1]")).rfind("bad.json: /events/1/message/rrefs/0/rref: expected an "
                                                                "id [created_on, local_id], got an array",
                                                                0),
            0u);
}

TEST_F(ReadErrors, AnotherFormatVersionIsRefused) {
  EXPECT_EQ(Error(Edit("\"format_version\": 1", "\"format_version\": 2")),
            "bad.json: /format_version: unsupported trace format version 2 (this rrefsim reads version 1)");
  EXPECT_EQ(Error(Edit("\"format_version\": 1", "\"format_version\": \"1\"")),
            "bad.json: /format_version: expected an integer (the format version), got a string");
}

TEST_F(ReadErrors, TheStateListsEveryWorkerByItsId) {
  EXPECT_EQ(Error(Edit("{\"worker\":1,\"owners\"", "{\"worker\":2,\"owners\"")),
            "bad.json: /state/1/worker: expected worker 1 (one entry per worker, by id)");
}

TEST_F(ReadErrors, TheMessageQuotesInputBytesPrintably) {
  EXPECT_EQ(Error("\xff{"), "bad.json:1:1: not valid JSON: syntax error while parsing value - invalid literal; last "
                            "read: '\\xff'");
  std::string quoted = Error(Edit("\"kind\":\"heal\"", "\"kind\":\"h\\u0000\u00e9al\""));
  EXPECT_EQ(quoted.rfind(
                "bad.json: /choices/0/kind: unknown choice kind \"h\\x00\\xc3\\xa9al\"", 0),
            0u)
      << quoted;
}

TEST_F(ReadErrors, NotAnObjectAtTheTop) {
  EXPECT_EQ(Error("[1, 2]"), "bad.json: /: expected an object, got an array");
}

}  // namespace
}  // namespace rrefsim::traces
