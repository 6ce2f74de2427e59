#pragma once

// Chart.js 3 (Debian's libjs-chart.js), inlined into report.html. The text is read at build time
// (CMakeLists.txt generates the definition), so a report opens offline and the binary reads no path at run
// time.

#include <string_view>

namespace kp::report {

std::string_view chart_js();

}  // namespace kp::report
