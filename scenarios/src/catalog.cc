#include "rrefsim/scenarios/catalog.h"

namespace rrefsim::scenarios {
namespace {

using sim::ArgPayload;
using sim::Block;
using sim::Int;
using sim::Scenario;
using sim::Self;
using sim::To;

// Functions shared by most scenarios: make returns 42; fetch to_heres its first argument and checks it.
void CommonFunctions(Scenario& s) {
  s.Function("make").Return(Int(42));
  s.Function("fetch").ToHere("v", "args").Expect("v", 42).Return(Int(0));
}

Scenario S1() {
  Scenario s("s1_remote_to_here", 4);
  CommonFunctions(s);
  s.On(0).Remote("a", To(1), "make").ToHere("v", "a").Expect("v", 42).Del("a");
  return s;
}

Scenario S2() {
  Scenario s("s2_remote_to_self", 4);
  CommonFunctions(s);
  s.On(0).Remote("a", To(0), "make").ToHere("v", "a").Expect("v", 42).Del("a");
  return s;
}

Scenario S3() {
  Scenario s("s3_user_to_user", 4);
  CommonFunctions(s);
  s.On(0).Remote("a", To(1), "make").RpcSync("", To(2), "fetch", {"a"}).ToHere("v", "a").Expect("v", 42).Del("a");
  return s;
}

Scenario S4() {
  Scenario s("s4_user_to_owner", 4);
  CommonFunctions(s);
  s.On(0).Remote("a", To(1), "make").RpcSync("", To(1), "fetch", {"a"}).Del("a");
  return s;
}

Scenario S5() {
  Scenario s("s5_owner_to_user", 4);
  CommonFunctions(s);
  s.On(1).Local("x", Int(42)).RpcSync("", To(2), "fetch", {"x"}).Del("x");
  return s;
}

Scenario S6() {
  Scenario s("s6_owner_to_self", 4);
  CommonFunctions(s);
  s.On(0).Local("x", Int(42)).RpcSync("", To(0), "fetch", {"x"}).Del("x");
  return s;
}

Scenario S7() {
  Scenario s("s7_rpc_returns_rref", 4);
  CommonFunctions(s);
  s.Function("share").Remote("r", To(2), "make").ReturnVar("r");
  s.On(0).RpcSync("got", To(1), "share").ToHere("v", "got").Expect("v", 42).Del("got");
  return s;
}

Scenario S9() {
  Scenario s("s9_gated_on_two_forks", 4);
  CommonFunctions(s);
  s.Function("fetch_both").ToHere("v", "args", 0).Expect("v", 42).ToHere("w", "args", 1).Expect("w", 42)
      .Return(Int(0));
  s.On(0).Remote("a", To(1), "make").Remote("b", To(3), "make").RpcSync("", To(2), "fetch_both", {"a", "b"})
      .Del("a").Del("b");
  return s;
}

// test_nested_rref_stress: an RRef whose value holds RRefs owned by a third worker, 20 of them.
Scenario S10() {
  Scenario s("s10_nested_rref_stress", 4);
  CommonFunctions(s);
  Block& nest = s.Function("nest");
  std::vector<std::string> inner;
  for (int i = 0; i < 20; ++i) {
    inner.push_back("r" + std::to_string(i));
    nest.Remote(inner.back(), To(2), "make");
  }
  nest.Pack("packed", inner).ReturnVar("packed");  // return [r0, ..., r19]
  s.On(0).Remote("outer", To(1), "nest").ToHere("inner", "outer").ToHere("v", "inner", 19).Expect("v", 42)
      .Del("inner").Del("outer");
  return s;
}

// test_rref_forward_chain: the caller's own rref_forward_chain(ttl=8) issues remote(forward, ttl=7) on the next
// worker, which recurses down to ttl=0; the caller then to_heres through the 8 returned levels.
Scenario ForwardChain() {
  Scenario s("forward_chain_ttl8", 4);
  CommonFunctions(s);
  Block then_block;
  then_block.Remote("next", Self(1), "forward", {"args"}, ArgPayload(-1)).ReturnVar("next");
  Block else_block;
  else_block.ToHere("v", "args").ReturnVar("v");
  s.Function("forward").IfPositive(ArgPayload(), then_block, else_block);
  Block& p = s.On(0);
  p.Remote("a", To(1), "make").Remote("c0", To(1), "forward", {"a"}, Int(7));
  for (int i = 0; i < 8; ++i) p.ToHere("c" + std::to_string(i + 1), "c" + std::to_string(i));
  p.Expect("c8", 42).Del("a");
  for (int i = 0; i <= 8; ++i) p.Del("c" + std::to_string(i));
  return s;
}

Scenario ShutdownWithLiveUsers() {
  Scenario s("shutdown_with_live_users", 4);
  CommonFunctions(s);
  s.On(0).Remote("a", To(1), "make").RpcSync("", To(2), "fetch", {"a"});
  s.On(3).Remote("b", To(2), "make").ToHere("v", "b");
  return s;  // the programs end holding a and b: graceful shutdown deletes them
}

// A user function that blocks on to_here holds the only handler of its worker; the fetch reply needs a handler too.
Scenario PoolExhaustion() {
  Scenario s("pool_exhaustion", 4);
  CommonFunctions(s);
  s.pool_size = 1;
  s.On(0).Remote("a", To(1), "make").RpcSync("", To(2), "fetch", {"a"}).Del("a");
  return s;
}

CatalogEntry Entry(std::string name, std::string summary, std::string faults, Scenario scenario,
                   std::vector<std::string> fault_overrides = {}, sim::Outcome expected = sim::Outcome::kOk) {
  CatalogEntry e;
  e.name = std::move(name);
  e.summary = std::move(summary);
  e.faults = std::move(faults);
  e.scenario = std::move(scenario);
  e.fault_overrides = std::move(fault_overrides);
  e.expected = expected;
  return e;
}

std::vector<CatalogEntry> Build() {
  std::vector<CatalogEntry> c;
  c.push_back(Entry("s1_remote_to_here", "S1: remote() to another worker, to_here, drop (test_rref_to_here)", "reorder",
               S1()));
  c.push_back(Entry("s2_remote_to_self", "S2: remote() to self (test_self_remote_rref_as_rpc_arg)", "reorder", S2()));
  c.push_back(Entry("s3_user_to_user", "S3: a UserRRef shared user to user, world size 4 (test_rref_context_debug_info)",
               "reorder", S3()));
  c.push_back(Entry("s4_user_to_owner", "S4: a UserRRef sent back to its owner, the phantom fork", "reorder", S4()));
  c.push_back(Entry("s5_owner_to_user", "S5: an OwnerRRef sent to a user, early fork registration", "reorder", S5()));
  c.push_back(Entry("s6_owner_to_self", "S6: an OwnerRRef sent to self", "reorder", S6()));
  c.push_back(Entry("s7_rpc_returns_rref", "S7: an rpc returning a UserRRef (test_return_rref)", "reorder", S7()));
  c.push_back(Entry("s9_gated_on_two_forks", "S9: a user function gated on two forked arguments (test_user_rrefs_confirmed)",
               "reorder", S9()));
  c.push_back(Entry("s10_nested_rref_stress", "S10: 20 RRefs nested in one value (test_nested_rref_stress)", "reorder",
               S10()));
  c.push_back(Entry("forward_chain_ttl8", "remote() forwarding an RRef through 8 hops (test_rref_forward_chain)",
               "reorder", ForwardChain()));
  c.push_back(Entry("shutdown_with_live_users", "S12: graceful shutdown while programs hold RRefs", "reorder",
               ShutdownWithLiveUsers()));
  c.push_back(Entry("s3_faulty_agent", "S3 with 3 failing sends per control message (FaultyAgentRpcTest)",
               "faulty-agent", S3(), {"num_fail_sends=3"}));
  c.back().scenario.name = "s3_faulty_agent";
  c.push_back(Entry("pool_exhaustion",
                    "a blocking user function holds the only handler its fetch reply needs; shutdown then breaks G2 "
                    "(rref-cases.md P12)",
                    "reorder", PoolExhaustion(), {}, sim::Outcome::kDeadlock));
  c.back().expected_violations = {"parent_pinned_until_child_confirmed", "clean_at_quiescence"};
  return c;
}

}  // namespace

const std::vector<CatalogEntry>& Catalog() {
  static const std::vector<CatalogEntry> catalog = Build();
  return catalog;
}

const CatalogEntry* FindScenario(const std::string& name) {
  for (const CatalogEntry& e : Catalog()) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

}  // namespace rrefsim::scenarios
