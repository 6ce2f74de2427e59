#pragma once

// The fixed parts of report.html: its style sheet and the script that draws the embedded view model
// (html_report.cpp) with Chart.js. The script builds every element with textContent, never innerHTML, and
// after drawing each chart writes how many data points it drew into the canvas' data-points attribute (beside
// data-expected-points, from the model), so a headless browser test can check every chart from the DOM.

#include <string_view>

namespace kp::report {

std::string_view html_page_css();
std::string_view html_page_script();

}  // namespace kp::report
