// Starts or stops one nginx of the lab's configuration (src/lab/nginx_service.hpp) in a given directory, for
// bench/compare-http.sh until `kubeproof lab up` starts nginx:
//   kp_nginx_lab up DIR [--workers N] [--access-log]   prints "pid=<pid> http=<port> https=<port>"
//   kp_nginx_lab down DIR
// The instance outlives this tool (it is started detached); `down` stops it by the pid recorded in DIR, after
// checking that pid is still an nginx master of DIR.

#include <signal.h>

#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "lab/nginx_service.hpp"
#include "lab/process.hpp"

int main(int argc, char** argv) {
  CLI::App app("kp_nginx_lab: one lab nginx in a directory");
  app.require_subcommand(1);
  std::string dir;
  kp::lab::NginxOptions options;
  CLI::App* up = app.add_subcommand("up", "start nginx in DIR");
  up->add_option("dir", dir)->required();
  up->add_option("--workers", options.workers);
  up->add_flag("--access-log", options.access_log);
  CLI::App* down = app.add_subcommand("down", "stop the nginx started in DIR");
  down->add_option("dir", dir)->required();
  CLI11_PARSE(app, argc, argv);

  std::filesystem::path state = std::filesystem::absolute(dir);
  std::filesystem::path pid_file = state / "kp_nginx_lab.pid";
  if (up->parsed()) {
    kp::Result<kp::lab::NginxInstance> started = kp::lab::start_nginx(state, options, kp::real_clock());
    if (!started) {
      std::cerr << started.error().message << "\n";
      return 1;
    }
    std::ofstream(pid_file) << started->pid() << "\n";
    std::cout << fmt::format("pid={} http={} https={}\n", started->pid(), started->http_port(),
                             started->https_port());
    // Leave it running: forget the instance without stopping it.
    auto* leaked = new kp::lab::NginxInstance(std::move(*started));
    (void)leaked;
    return 0;
  }
  std::ifstream in(pid_file);
  pid_t pid = 0;
  in >> pid;
  if (pid <= 0) {
    std::cerr << fmt::format("no pid in {}\n", pid_file.string());
    return 1;
  }
  std::optional<std::vector<std::string>> cmdline = kp::lab::process_cmdline(pid);
  std::string joined;
  for (const std::string& part : cmdline.value_or(std::vector<std::string>{})) {
    joined += part + " ";
  }
  // nginx rewrites its title to "nginx: master process <argv>": match on the config path of this dir.
  if (joined.find("nginx") == std::string::npos ||
      joined.find((state / "nginx.conf").string()) == std::string::npos) {
    std::cerr << fmt::format("pid {} is not the nginx of {}; left alone\n", pid, state.string());
    std::filesystem::remove(pid_file);
    return 1;
  }
  kp::Result<void> stopped = kp::lab::terminate_process(pid, kp::real_clock(), std::chrono::seconds(10));
  std::filesystem::remove(pid_file);
  if (!stopped) {
    std::cerr << stopped.error().message << "\n";
    return 1;
  }
  std::cout << fmt::format("stopped nginx pid {}\n", pid);
  return 0;
}
