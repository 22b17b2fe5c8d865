#include "tests/webhook/webhook_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <openssl/evp.h>

namespace palisade::testing {

std::unique_ptr<WebhookProcess> WebhookProcess::start(const std::filesystem::path& binary,
                                                      const std::vector<std::string>& arguments,
                                                      const std::filesystem::path& output_dir,
                                                      std::string* error) {
  const std::filesystem::path stdout_path = output_dir / "webhook.stdout";
  const std::filesystem::path stderr_path = output_dir / "webhook.stderr";
  // Everything the child needs is prepared before fork(): between fork() and
  // exec() a child of a multithreaded process may only make
  // async-signal-safe calls.
  std::vector<std::string> words{binary.string()};
  words.insert(words.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (auto& word : words) {
    argv.push_back(word.data());
  }
  argv.push_back(nullptr);
  const int out = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out < 0 || err < 0 || in < 0) {
    if (error != nullptr) {
      *error = std::string("cannot open the output files: ") + std::strerror(errno);
    }
    for (int fd : {out, err, in}) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
    return nullptr;
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // A test binary killed by a timeout takes its server with it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    // The server installs its own SIGTERM handling; it must not inherit a
    // blocked or ignored signal from the test.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int number : {SIGTERM, SIGINT, SIGPIPE}) {
      ::signal(number, SIG_DFL);
    }
    ::dup2(in, STDIN_FILENO);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::close(out);
  ::close(err);
  ::close(in);
  if (pid < 0) {
    if (error != nullptr) {
      *error = std::string("fork: ") + std::strerror(fork_errno);
    }
    return nullptr;
  }
  return std::unique_ptr<WebhookProcess>(new WebhookProcess(pid, stdout_path, stderr_path));
}

WebhookProcess::~WebhookProcess() {
  if (!status_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

uint16_t WebhookProcess::waitForPort(std::chrono::milliseconds deadline) {
  uint16_t port = 0;
  waitFor(
      [&] {
        for (const auto& line : logLines()) {
          if (line.value("msg", "") == "listening" && line.contains("port") &&
              line["port"].is_number_unsigned()) {
            port = line["port"].get<uint16_t>();
            return true;
          }
        }
        return exited();
      },
      deadline);
  return port;
}

std::string WebhookProcess::standardOutput() const { return readFile(stdout_path_); }

std::string WebhookProcess::standardError() const { return readFile(stderr_path_); }

std::vector<nlohmann::json> WebhookProcess::logLines() const {
  std::vector<nlohmann::json> lines;
  std::istringstream text(standardError());
  std::string line;
  while (std::getline(text, line)) {
    // The last line may be caught half-written; it does not parse.
    nlohmann::json parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object()) {
      lines.push_back(std::move(parsed));
    }
  }
  return lines;
}

std::optional<nlohmann::json> WebhookProcess::waitForLog(
    std::string_view message, const std::function<bool(const nlohmann::json&)>& also,
    std::chrono::milliseconds deadline) {
  std::optional<nlohmann::json> found;
  waitFor(
      [&] {
        for (auto& line : logLines()) {
          if (line.value("msg", "") == message && (!also || also(line))) {
            found = std::move(line);
            return true;
          }
        }
        return false;
      },
      deadline);
  return found;
}

bool WebhookProcess::signal(int number) const { return !status_ && ::kill(pid_, number) == 0; }

bool WebhookProcess::exited() {
  if (status_) {
    return true;
  }
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) {
    return false;
  }
  status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return true;
}

std::optional<int> WebhookProcess::waitForExit(std::chrono::milliseconds deadline) {
  if (!waitFor([&] { return exited(); }, deadline)) {
    return std::nullopt;
  }
  return status_;
}

std::unique_ptr<DevWebhook> DevWebhook::start(const std::filesystem::path& binary,
                                              const std::vector<std::string>& flags,
                                              std::string* error) {
  std::unique_ptr<DevWebhook> webhook(new DevWebhook());
  std::vector<std::string> arguments{"--dev-certs", (webhook->dir() / "certs").string(),
                                     "--listen", "127.0.0.1:0"};
  arguments.insert(arguments.end(), flags.begin(), flags.end());
  webhook->process_ = WebhookProcess::start(binary, arguments, webhook->dir(), error);
  if (!webhook->process_) {
    return nullptr;
  }
  webhook->port_ = webhook->process_->waitForPort();
  if (webhook->port_ == 0) {
    if (error != nullptr) {
      *error = "palisade-webhook did not start listening; it wrote:\n" +
               webhook->process_->standardOutput() + webhook->process_->standardError();
    }
    return nullptr;
  }
  webhook->ca_pem_ = readFile(webhook->dir() / "certs" / "ca.crt");
  return webhook;
}

std::unique_ptr<TestClient> DevWebhook::client(std::string host,
                                               std::vector<std::string> alpn) const {
  return std::make_unique<TestClient>(ca_pem_, std::move(host), std::move(alpn));
}

std::optional<std::string> base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string decoded(text.size() / 4 * 3, '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                                     reinterpret_cast<const unsigned char*>(text.data()),
                                     static_cast<int>(text.size()));
  if (length < 0) {
    return std::nullopt;
  }
  // EVP_DecodeBlock counts the padding as data.
  size_t padding = 0;
  while (padding < 2 && text.size() > padding && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  decoded.resize(static_cast<size_t>(length) - padding);
  return decoded;
}

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void replaceFile(const std::filesystem::path& path, std::string_view contents) {
  const std::filesystem::path temporary = path.string() + ".tmp";
  std::ofstream(temporary, std::ios::binary | std::ios::trunc) << contents;
  std::filesystem::rename(temporary, path);
}

}  // namespace palisade::testing
