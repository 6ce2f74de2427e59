// Removed when the CLI area lands; kp_cli needs one source to exist.
namespace kp::cli {}
