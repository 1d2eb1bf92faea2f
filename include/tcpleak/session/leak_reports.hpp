// The leak watch's state as the outputs tell it: shared by every command
// that watches for leaks.
#pragma once

#include "tcpleak/core/coverage.hpp"
#include "tcpleak/core/leak_tracker.hpp"
#include "tcpleak/output/tracking.hpp"
#include "tcpleak/session/leak_watch.hpp"
#include "tcpleak/sys/clock.hpp"

namespace tcpleak {

ReconcileReport reconcile_report(const ReconcileNotice& notice, const ClockMapping& clock);
TrackingState tracking_state(const LeakWatch& watch, const LeakTracker& tracker, const Coverage& coverage);

} // namespace tcpleak
