#include "tcpleak/session/leak_reports.hpp"

namespace tcpleak {

ReconcileReport reconcile_report(const ReconcileNotice& notice, const ClockMapping& clock) {
    ReconcileReport report;
    report.unix_ns = clock.to_unix_ns(notice.mono_ns);
    report.gap_start_unix_ns = clock.to_unix_ns(notice.gap_start_ns);
    report.events_lost = notice.events_lost;
    report.found = notice.found;
    report.vanished = notice.vanished;
    report.covered = notice.covered;
    return report;
}

TrackingState tracking_state(const LeakWatch& watch, const LeakTracker& tracker, const Coverage& coverage) {
    TrackingState state;
    state.complete = coverage.complete();
    state.incomplete_reasons = coverage.incomplete_reasons();
    state.reconciliations = watch.stats().reconciliations;
    state.found_by_scan = tracker.adopted_total();
    state.scans = watch.stats().scans;
    state.scan_busy_ns = watch.stats().scan_busy_ns;
    return state;
}

} // namespace tcpleak
