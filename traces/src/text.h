// Internal: how traces spell ids, times and core events in text (diffs, descriptions, explanations, renderings).
#pragma once

#include <string>

#include "rrefsim/core/events.h"
#include "rrefsim/core/ids.h"
#include "rrefsim/core/view.h"

namespace rrefsim::traces::detail {

// "(1,4)", as the checkers and core::Describe print ids.
std::string IdText(const core::GloballyUniqueId& id);
// "12.034 ms": virtual microseconds as milliseconds with three decimals (integer arithmetic, no locale).
std::string Ms(core::TimeUs time);
// One line per core event: "future 3 = 5", "UserRRef (0,1) of (1,0) destroyed", "protocol error A6 ...".
std::string CoreEventText(const core::Event& event);
// "h3 fork (0,1) of (1,0) owner 1 app_refs 1 confirmed" / "h2 (1,0) app_refs 0 value 5".
std::string UserText(const core::UserRRefView& user);
std::string OwnerText(const core::OwnerRRefView& owner);

}  // namespace rrefsim::traces::detail
