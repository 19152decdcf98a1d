// Where the client finds its server and token: flags, then the environment, then the config
// file, which must be private when it holds a token.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cli/settings.h"

namespace sluice::cli {
namespace {

namespace fs = std::filesystem;

class CliSettings : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "sluice-cli-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text, mode_t mode) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    EXPECT_EQ(chmod(path.c_str(), mode), 0);
    return path;
  }

  std::string dir_;
};

TEST_F(CliSettings, DefaultsToLocalhostWithoutToken) {
  SettingsSources s;
  s.config_path = dir_ + "/missing.yaml";
  auto r = ResolveSettings(s);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->url, "http://127.0.0.1:8080");
  EXPECT_EQ(r->token, "");
}

TEST_F(CliSettings, FlagsWinOverEnvironmentWhichWinsOverTheFile) {
  std::string file = Write("config.yaml", "url: http://file:1\ntoken: file-token\n", 0600);
  SettingsSources s;
  s.config_path = file;
  EXPECT_EQ(ResolveSettings(s)->url, "http://file:1");
  EXPECT_EQ(ResolveSettings(s)->token, "file-token");
  s.env_url = "http://env:2";
  s.env_token = "env-token";
  EXPECT_EQ(ResolveSettings(s)->url, "http://env:2");
  EXPECT_EQ(ResolveSettings(s)->token, "env-token");
  s.flag_url = "http://flag:3";
  s.flag_token = "flag-token";
  EXPECT_EQ(ResolveSettings(s)->url, "http://flag:3");
  EXPECT_EQ(ResolveSettings(s)->token, "flag-token");
}

TEST_F(CliSettings, EachKeyFallsBackOnItsOwn) {
  std::string file = Write("config.yaml", "url: http://file:1\ntoken: file-token\n", 0600);
  SettingsSources s;
  s.config_path = file;
  s.flag_url = "http://flag:3";
  auto r = ResolveSettings(s);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->url, "http://flag:3");
  EXPECT_EQ(r->token, "file-token");
}

TEST_F(CliSettings, RefusesAConfigWithATokenReadableByOthers) {
  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    std::string file = Write("config.yaml", "token: file-token\n", mode);
    SettingsSources s;
    s.config_path = file;
    auto r = ResolveSettings(s);
    ASSERT_FALSE(r.ok()) << std::oct << mode;
    EXPECT_EQ(r.status().code(), Code::kPermissionDenied);
    EXPECT_NE(r.status().message().find("chmod 600 " + file), std::string::npos)
        << r.status().message();
  }
}

TEST_F(CliSettings, AConfigWithoutTokenMayBeReadable) {
  std::string file = Write("config.yaml", "url: http://file:1\n", 0644);
  SettingsSources s;
  s.config_path = file;
  auto r = ResolveSettings(s);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->url, "http://file:1");
}

TEST_F(CliSettings, ANotReadFileIsNotChecked) {
  std::string file = Write("config.yaml", "token: file-token\n", 0644);
  SettingsSources s;
  s.config_path = file;
  s.flag_token = "flag-token";
  s.env_url = "http://env:2";
  EXPECT_TRUE(ResolveSettings(s).ok());
}

TEST_F(CliSettings, TokenFileRelativeToTheConfigMustBePrivate) {
  std::string file = Write("config.yaml", "token_file: token\n", 0644);
  Write("token", "secret-token\n", 0600);
  SettingsSources s;
  s.config_path = file;
  auto r = ResolveSettings(s);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->token, "secret-token");

  Write("token", "secret-token\n", 0644);
  r = ResolveSettings(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kPermissionDenied);
  EXPECT_NE(r.status().message().find("token file"), std::string::npos) << r.status().message();
}

TEST_F(CliSettings, RefusesUnknownKeysBothTokensAndABadUrl) {
  SettingsSources s;
  s.config_path = Write("config.yaml", "server: http://x\n", 0600);
  EXPECT_NE(ResolveSettings(s).status().message().find("unknown key \"server\""),
            std::string::npos);
  s.config_path = Write("config.yaml", "token: a\ntoken_file: b\n", 0600);
  EXPECT_FALSE(ResolveSettings(s).ok());
  s.config_path = Write("config.yaml", "url: 127.0.0.1:8080\n", 0600);
  EXPECT_NE(ResolveSettings(s).status().message().find("http://"), std::string::npos);
}

TEST(CliConfigPath, XdgConfigHomeElseHome) {
  EXPECT_EQ(ConfigPath("/x/conf", "/home/u"), "/x/conf/sluice/config.yaml");
  EXPECT_EQ(ConfigPath(nullptr, "/home/u"), "/home/u/.config/sluice/config.yaml");
  EXPECT_EQ(ConfigPath("", "/home/u"), "/home/u/.config/sluice/config.yaml");
  EXPECT_EQ(ConfigPath("relative", "/home/u"), "/home/u/.config/sluice/config.yaml");
  EXPECT_EQ(ConfigPath(nullptr, nullptr), "");
}

}  // namespace
}  // namespace sluice::cli
