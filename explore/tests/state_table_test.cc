// The visited-state table (src/state_table.h): what a revisit learns of the earlier visits' sleep sets, under a depth
// bound and across the chunks the sets are stored in.
#include "../src/state_table.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace rrefsim::explore::detail {
namespace {

TEST(StateTable, AFirstVisitIsExploredInFull) {
  StateTable table;
  EXPECT_EQ(table.Visit(7, 3, {11, 12}, false), nullptr);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.Visit(8, 3, {11, 12}, false), nullptr);
  EXPECT_EQ(table.size(), 2u);
}

TEST(StateTable, ARevisitLearnsWhatWasAsleepAtEveryEarlierVisit) {
  StateTable table;
  ASSERT_EQ(table.Visit(7, 3, {30, 10, 20}, false), nullptr);
  const StateTable::Asleep* second = table.Visit(7, 5, {20, 30, 40}, false);
  ASSERT_NE(second, nullptr);
  EXPECT_TRUE(second->Contains(10));
  EXPECT_TRUE(second->Contains(20));
  EXPECT_TRUE(second->Contains(30));
  EXPECT_FALSE(second->Contains(40));  // awake at the first visit: explored from there
  const StateTable::Asleep* third = table.Visit(7, 4, {10, 20}, false);
  ASSERT_NE(third, nullptr);
  EXPECT_FALSE(third->Contains(10));  // awake at the second visit
  EXPECT_TRUE(third->Contains(20));
  EXPECT_TRUE(third->Contains(30));
  EXPECT_FALSE(third->Contains(40));  // the stored set is every earlier visit's, not the last one's
  const StateTable::Asleep* fourth = table.Visit(7, 4, {20, 30}, false);
  ASSERT_NE(fourth, nullptr);
  EXPECT_TRUE(fourth->Contains(20));
  EXPECT_FALSE(fourth->Contains(30));  // not asleep at the third visit: explored from there
  EXPECT_FALSE(fourth->Contains(10));  // nor 10 at the second
  EXPECT_EQ(table.size(), 1u);
}

TEST(StateTable, UnderADepthBoundAVisitWithMoreDepthLeftStartsAgain) {
  StateTable table;
  ASSERT_EQ(table.Visit(7, 5, {10}, true), nullptr);
  EXPECT_NE(table.Visit(7, 6, {}, true), nullptr);  // less depth left: a revisit
  EXPECT_EQ(table.Visit(7, 2, {20}, true), nullptr);  // more depth left: explored again, in full
  const StateTable::Asleep* again = table.Visit(7, 2, {20, 30}, true);
  ASSERT_NE(again, nullptr);
  EXPECT_TRUE(again->Contains(20));
  EXPECT_FALSE(again->Contains(10));  // the set is the new visit's
  // Without a bound, depth does not matter.
  ASSERT_EQ(table.Visit(9, 5, {10}, false), nullptr);
  EXPECT_NE(table.Visit(9, 1, {10}, false), nullptr);
}

// A step first explored from a deeper visit had less depth left than a later visit between the two has: that visit
// explores it again, as it is not explored within its bound.
TEST(StateTable, UnderADepthBoundADeeperVisitLeavesItsStepsToShallowerOnes) {
  StateTable table;
  ASSERT_EQ(table.Visit(7, 2, {10}, true), nullptr);
  const StateTable::Asleep* deeper = table.Visit(7, 5, {}, true);  // 10 awake: explored, with depth 5 to go
  ASSERT_NE(deeper, nullptr);
  EXPECT_TRUE(deeper->Contains(10));
  const StateTable::Asleep* between = table.Visit(7, 3, {}, true);
  ASSERT_NE(between, nullptr);
  EXPECT_TRUE(between->Contains(10));
  // A visit at the stored depth shrinks the set as without a bound.
  ASSERT_NE(table.Visit(7, 2, {}, true), nullptr);
  const StateTable::Asleep* after = table.Visit(7, 2, {}, true);
  ASSERT_NE(after, nullptr);
  EXPECT_FALSE(after->Contains(10));
}

// Under a deviation bound a visit with more deviations left than the stored one explores again in full; with a
// depth bound too, a visit is a revisit only when it has no more of either left.
TEST(StateTable, UnderADeviationBoundAVisitWithMoreDeviationsLeftStartsAgain) {
  StateTable table;
  ASSERT_EQ(table.Visit(7, 3, {}, false, 2), nullptr);
  EXPECT_NE(table.Visit(7, 3, {}, false, 3), nullptr);  // fewer left: a revisit
  EXPECT_NE(table.Visit(7, 1, {}, false, 2), nullptr);  // depth does not matter without a depth bound
  EXPECT_EQ(table.Visit(7, 9, {}, false, 1), nullptr);  // more left: in full, and stored
  EXPECT_EQ(table.Visit(7, 9, {}, false, 0), nullptr);
  EXPECT_NE(table.Visit(7, 9, {}, false, 1), nullptr);
  ASSERT_EQ(table.Visit(8, 5, {}, true, 1), nullptr);
  EXPECT_NE(table.Visit(8, 5, {}, true, 1), nullptr);
  EXPECT_NE(table.Visit(8, 6, {}, true, 2), nullptr);   // less of both
  EXPECT_EQ(table.Visit(8, 4, {}, true, 2), nullptr);   // more depth left, fewer deviations: in full
  EXPECT_EQ(table.Visit(8, 6, {}, true, 0), nullptr);   // more deviations left than the new stored visit
}

// A visit the table cannot store (here a depth beyond its 24 bits, or deviations beyond their 8) throws and leaves no
// trace: the state is still unvisited, not keyed to another state's sleep set, whose steps a revisit would take for
// explored ones.
TEST(StateTable, AVisitThatCannotBeStoredLeavesTheStateUnvisited) {
  StateTable table;
  ASSERT_EQ(table.Visit(7, 1, {10, 20}, false), nullptr);
  EXPECT_THROW(table.Visit(8, std::uint64_t{1} << 24, {30}, false), std::length_error);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_THROW(table.Visit(8, 1, {30}, false, 256), std::length_error);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.Visit(8, 1, {30}, false), nullptr);  // its first visit
  const StateTable::Asleep* again = table.Visit(8, 1, {}, false);
  ASSERT_NE(again, nullptr);
  EXPECT_TRUE(again->Contains(30));
  EXPECT_FALSE(again->Contains(10));
}

// A million sets of three steps fill several chunks of the table (2^20 words each); each keeps its own steps.
TEST(StateTable, SetsStayApartAcrossChunks) {
  StateTable table;
  constexpr std::uint64_t kStates = 1'000'000;
  for (std::uint64_t s = 0; s < kStates; ++s) ASSERT_EQ(table.Visit(s, 1, {s, s + 1, s + 2}, false), nullptr);
  for (std::uint64_t s = 0; s < kStates; s += 9973) {
    const StateTable::Asleep* again = table.Visit(s, 1, {s + 1, s + 2}, false);
    ASSERT_NE(again, nullptr);
    EXPECT_TRUE(again->Contains(s) && again->Contains(s + 1) && again->Contains(s + 2)) << "state " << s;
    EXPECT_FALSE(again->Contains(s + 3)) << "state " << s;
  }
}

}  // namespace
}  // namespace rrefsim::explore::detail
