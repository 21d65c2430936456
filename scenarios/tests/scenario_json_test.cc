// The JSON scenario format: the catalog round-trips and is written canonically, and every kind of bad input is
// refused with a message naming the file, the place and what was expected.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "rrefsim/scenarios/scenario_json.h"

namespace rrefsim::scenarios {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ScenarioJsonTest, EveryCatalogEntryRoundTrips) {
  ASSERT_FALSE(Catalog().empty());
  for (const CatalogEntry& e : Catalog()) {
    SCOPED_TRACE(e.name);
    ParsedScenario back = ParseScenarioText(ScenarioToJson(e), e.name);
    ASSERT_TRUE(back.entry) << back.error;
    EXPECT_TRUE(*back.entry == e);
  }
}

// The files are the writer's canonical text, as traces will embed them. RRSIM_REWRITE_CATALOG=1 rewrites them
// (after a change to the writer, or to format a new file), like approving a golden file.
TEST(ScenarioJsonTest, CatalogFilesAreCanonical) {
  const bool rewrite = std::getenv("RRSIM_REWRITE_CATALOG") != nullptr;
  for (const CatalogEntry& e : Catalog()) {
    const std::string path = std::string(RRSIM_CATALOG_DIR) + "/" + e.name + ".json";
    const std::string canonical = ScenarioToJson(e);
    if (rewrite) std::ofstream(path, std::ios::binary) << canonical;
    EXPECT_EQ(ReadFile(path), canonical) << path << " is not canonical; RRSIM_REWRITE_CATALOG=1 rewrites it";
  }
}

TEST(ScenarioJsonTest, WritingIsCanonicalForIntegerExpressions) {
  CatalogEntry e = *FindScenario("forward_chain_ttl8");
  const std::string text = ScenarioToJson(e);
  EXPECT_NE(text.find(R"("to": {"self": 1})"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("payload": {"args": -1})"), std::string::npos) << text;
  EXPECT_NE(text.find(R"({"op": "remote", "out": "a", "to": 1, "function": "make"})"), std::string::npos) << text;
}

TEST(ScenarioJsonTest, AFileIsReadWithItsPathAsOrigin) {
  ParsedScenario p = ParseScenarioFile(std::string(RRSIM_CATALOG_DIR) + "/s1_remote_to_here.json");
  ASSERT_TRUE(p.entry) << p.error;
  EXPECT_TRUE(*p.entry == *FindScenario("s1_remote_to_here"));

  ParsedScenario missing = ParseScenarioFile("/nonexistent/x.json");
  EXPECT_EQ(missing.error, "/nonexistent/x.json: cannot open the file (expected a readable JSON scenario file)");
}

TEST(ScenarioJsonTest, SelectingByNameFileOrAll) {
  EXPECT_EQ(SelectScenarios("all").entries.size(), Catalog().size());
  EXPECT_EQ(SelectScenarios("s3_user_to_user").entries.at(0).name, "s3_user_to_user");
  EXPECT_EQ(SelectScenarios(std::string(RRSIM_CATALOG_DIR) + "/s3_user_to_user.json").entries.at(0).name,
            "s3_user_to_user");
  EXPECT_EQ(SelectScenarios("nope").error,
            "unknown scenario 'nope' (expected a name that `rrefsim list` shows, 'all', or a file ending in .json)");
}

}  // namespace
}  // namespace rrefsim::scenarios
