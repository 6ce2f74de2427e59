#pragma once

// Runs the real kubeproof binary (KP_BINARY) in a fresh temporary folder, as a user would, and captures its
// exit code, stdout and stderr. The child gets the test's environment minus the variables that would change
// which criteria or plans it finds, and is never attached to a terminal (so no colour).

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace kp::cli::testing {

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void write_file(const std::filesystem::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

inline std::vector<std::string> folder_entries(const std::filesystem::path& folder) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

inline std::size_t count_lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

struct Ran {
  int exit_code = -1;  // -1: did not exit normally
  std::string out;
  std::string err;
};

class Sandbox {
 public:
  Sandbox() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kp-cli-test-XXXXXX").string();
    char* made = ::mkdtemp(pattern.data());
    dir_ = made == nullptr ? std::filesystem::path() : std::filesystem::path(made);
    std::filesystem::create_directories(dir_ / "work");
    std::filesystem::create_directories(dir_ / "output");
  }
  ~Sandbox() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // The folder the binary runs in; files the test writes go here. Captured output lives elsewhere so a test
  // can check that the binary wrote nothing it should not have.
  std::filesystem::path work() const { return dir_ / "work"; }

  std::filesystem::path write(std::string_view name, std::string_view text) const {
    std::filesystem::path path = work() / name;
    write_file(path, text);
    return path;
  }

  Ran run(std::vector<std::string> args) const {
    std::filesystem::path out_file = dir_ / "output" / "stdout";
    std::filesystem::path err_file = dir_ / "output" / "stderr";
    std::vector<std::string> env;
    for (char** entry = environ; *entry != nullptr; ++entry) {
      std::string_view text(*entry);
      if (!text.starts_with("KUBEPROOF_") && !text.starts_with("NO_COLOR=")) {
        env.emplace_back(text);
      }
    }
    args.insert(args.begin(), KP_BINARY);
    std::vector<char*> argv;
    for (std::string& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (std::string& entry : env) {
      envp.push_back(entry.data());
    }
    envp.push_back(nullptr);
    std::string work_dir = work().string();

    pid_t child = ::fork();
    if (child == 0) {
      // Only async-signal-safe calls between fork and exec.
      int out = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int in = ::open("/dev/null", O_RDONLY);
      if (out < 0 || err < 0 || in < 0 || ::chdir(work_dir.c_str()) != 0 || ::dup2(in, 0) < 0 ||
          ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) {
        ::_exit(127);
      }
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    Ran ran;
    int status = 0;
    if (child > 0 && ::waitpid(child, &status, 0) == child && WIFEXITED(status)) {
      ran.exit_code = WEXITSTATUS(status);
    }
    ran.out = read_file(out_file);
    ran.err = read_file(err_file);
    return ran;
  }

 private:
  std::filesystem::path dir_;
};

}  // namespace kp::cli::testing
