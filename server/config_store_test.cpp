#include "server/config_store.h"

#include <unistd.h>

#include <fstream>
#include <thread>

#include <gtest/gtest.h>

namespace palisade::server {
namespace {

namespace fs = std::filesystem;

class ConfigFileWatcherTest : public ::testing::Test {
 protected:
  ConfigFileWatcherTest() {
    std::string pattern = (fs::temp_directory_path() / "palisade-config-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
  }
  ~ConfigFileWatcherTest() override { fs::remove_all(dir_); }

  void write(const fs::path& path, std::string_view text) {
    // A new file each time, as a ConfigMap update or an editor's save does.
    const fs::path temporary = path.string() + ".tmp";
    std::ofstream(temporary) << text;
    fs::rename(temporary, path);
  }

  fs::path dir_;
};

TEST_F(ConfigFileWatcherTest, ChangedFileReplacesTheConfiguration) {
  const fs::path file = dir_ / "config.yaml";
  write(file, "mode: enforce\n");
  ConfigStore store(loadConfigFile(file).value());
  ConfigFileWatcher watcher(file, store);
  EXPECT_EQ(watcher.poll(), ConfigFileWatcher::Poll::kUnchanged);
  write(file, "mode: warn\n");
  EXPECT_EQ(watcher.poll(), ConfigFileWatcher::Poll::kReloaded);
  EXPECT_EQ(store.current()->mode, policy::EnforcementMode::kWarn);
}

TEST_F(ConfigFileWatcherTest, InvalidFileKeepsTheLastGoodConfigurationAndSaysWhy) {
  const fs::path file = dir_ / "config.yaml";
  write(file, "mode: audit\n");
  ConfigStore store(loadConfigFile(file).value());
  ConfigFileWatcher watcher(file, store);
  write(file, "mode: sometimes\n");
  std::string error;
  EXPECT_EQ(watcher.poll(&error), ConfigFileWatcher::Poll::kFailed);
  EXPECT_NE(error.find("mode"), std::string::npos) << error;
  EXPECT_EQ(store.current()->mode, policy::EnforcementMode::kAudit);
  EXPECT_EQ(watcher.poll(), ConfigFileWatcher::Poll::kUnchanged) << "not retried until it changes";
  write(file, "mode: warn\n");
  EXPECT_EQ(watcher.poll(), ConfigFileWatcher::Poll::kReloaded);
}

TEST_F(ConfigFileWatcherTest, SymlinkSwapAsInAConfigMapVolumeIsNoticed) {
  // kubelet keeps versions in timestamped folders behind a `..data` symlink.
  fs::create_directory(dir_ / "v1");
  fs::create_directory(dir_ / "v2");
  write(dir_ / "v1" / "config.yaml", "mode: enforce\n");
  write(dir_ / "v2" / "config.yaml", "mode: audit\n");
  fs::create_directory_symlink("v1", dir_ / "..data");
  fs::create_symlink("..data/config.yaml", dir_ / "config.yaml");
  ConfigStore store(loadConfigFile(dir_ / "config.yaml").value());
  ConfigFileWatcher watcher(dir_ / "config.yaml", store);
  fs::create_directory_symlink("v2", dir_ / "..data_tmp");
  fs::rename(dir_ / "..data_tmp", dir_ / "..data");
  EXPECT_EQ(watcher.poll(), ConfigFileWatcher::Poll::kReloaded);
  EXPECT_EQ(store.current()->mode, policy::EnforcementMode::kAudit);
}

TEST(LoadConfigFile, MissingFileNamesIt) {
  const auto loaded = loadConfigFile("/nonexistent/palisade.yaml");
  ASSERT_FALSE(loaded.has_value());
  EXPECT_EQ(loaded.error().message, "/nonexistent/palisade.yaml: cannot open");
}

TEST(ConfigStore, SnapshotsSurviveReplacement) {
  ConfigStore store(std::make_shared<const policy::Config>(policy::defaultConfig()));
  const auto snapshot = store.current();
  policy::Config other = policy::defaultConfig();
  other.mode = policy::EnforcementMode::kAudit;
  std::thread writer([&] { store.replace(std::make_shared<const policy::Config>(other)); });
  writer.join();
  EXPECT_EQ(snapshot->mode, policy::EnforcementMode::kEnforce);
  EXPECT_EQ(store.current()->mode, policy::EnforcementMode::kAudit);
}

}  // namespace
}  // namespace palisade::server
