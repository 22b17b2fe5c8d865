#include "server/config_store.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

namespace palisade::server {

ConfigStore::ConfigStore(std::shared_ptr<const policy::Config> initial)
    : config_(std::move(initial)) {}

std::shared_ptr<const policy::Config> ConfigStore::current() const { return config_.load(); }

void ConfigStore::replace(std::shared_ptr<const policy::Config> config) {
  config_.store(std::move(config));
}

policy::Result<std::shared_ptr<const policy::Config>> loadConfigFile(
    const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return policy::fail(path.string() + ": cannot open");
  }
  std::ostringstream text;
  text << in.rdbuf();
  policy::Result<policy::Config> config = policy::parseConfig(text.str());
  if (!config) {
    return policy::fail(path.string() + ": " + config.error().message);
  }
  return std::make_shared<const policy::Config>(std::move(*config));
}

ConfigFileWatcher::ConfigFileWatcher(std::filesystem::path path, ConfigStore& store)
    : path_(std::move(path)), store_(store), identity_(fileIdentity()) {}

std::string ConfigFileWatcher::fileIdentity() const {
  struct stat info {};
  if (::stat(path_.c_str(), &info) != 0) {
    return "missing";
  }
  std::error_code ec;
  const std::filesystem::path target = std::filesystem::canonical(path_, ec);
  return std::to_string(info.st_dev) + ":" + std::to_string(info.st_ino) + ":" +
         std::to_string(info.st_size) + ":" + std::to_string(info.st_mtim.tv_sec) + "." +
         std::to_string(info.st_mtim.tv_nsec) + ":" + target.string();
}

ConfigFileWatcher::Poll ConfigFileWatcher::poll(std::string* error) {
  const std::string identity = fileIdentity();
  if (identity == identity_) {
    return Poll::kUnchanged;
  }
  identity_ = identity;
  auto loaded = loadConfigFile(path_);
  if (!loaded) {
    if (error != nullptr) {
      *error = loaded.error().message;
    }
    return Poll::kFailed;
  }
  store_.replace(std::move(*loaded));
  return Poll::kReloaded;
}

}  // namespace palisade::server
