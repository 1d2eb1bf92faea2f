// --textfile: the metrics for node_exporter's textfile collector, replaced
// atomically (a temporary file beside it, then rename), so the collector
// never reads half a file. The temporary's name does not end in .prom: the
// collector skips it.
#pragma once

#include <string>
#include <string_view>

namespace tcpleak {

// Throws UserError ("cannot write PATH: why").
void write_textfile(const std::string& path, std::string_view content);

} // namespace tcpleak
