#include "cli/settings.h"

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace sluice::cli {
namespace {

constexpr size_t kMaxFileBytes = 64 * 1024;

// Refuses a file that holds a secret when group or others may read or write it.
Status CheckPrivate(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return InvalidArgument(what + " " + path + ": " + std::strerror(errno));
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return PermissionDenied(what + " " + path + " holds a token but has permissions " + mode +
                            ", readable by others; it is ignored (run: chmod 600 " + path + ")");
  }
  return Status::Ok();
}

StatusOr<std::string> ReadSmallFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgument(what + " " + path + ": cannot be read");
  std::string text(kMaxFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxFileBytes) {
    return InvalidArgument(what + " " + path + ": larger than " + std::to_string(kMaxFileBytes) +
                           " bytes");
  }
  return text;
}

struct FileSettings {
  std::optional<std::string> url, token;
};

StatusOr<FileSettings> ReadConfigFile(const std::string& path) {
  FileSettings out;
  std::error_code ec;
  if (path.empty() || !std::filesystem::exists(path, ec)) return out;
  auto text = ReadSmallFile(path, "config file");
  if (!text.ok()) return text.status();
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    return InvalidArgument("config file " + path + ": " + e.what());
  }
  if (root.IsNull()) return out;
  if (!root.IsMap()) return InvalidArgument("config file " + path + ": expected a mapping");
  std::optional<std::string> token_file;
  for (const auto& kv : root) {
    std::string key = kv.first.as<std::string>("");
    if (!kv.second.IsScalar()) {
      return InvalidArgument("config file " + path + ": " + key + " must be a string");
    }
    std::string value = kv.second.as<std::string>();
    if (key == "url") {
      out.url = value;
    } else if (key == "token") {
      out.token = value;
    } else if (key == "token_file") {
      token_file = value;
    } else {
      return InvalidArgument("config file " + path + ": unknown key \"" + EchoValue(key) +
                             "\" (keys: url, token, token_file)");
    }
  }
  if (out.token && token_file) {
    return InvalidArgument("config file " + path + ": set token or token_file, not both");
  }
  if (out.token) {
    if (Status s = CheckPrivate(path, "config file"); !s.ok()) return s;
  }
  if (token_file) {
    std::filesystem::path p(*token_file);
    if (p.is_relative()) p = std::filesystem::path(path).parent_path() / p;
    if (Status s = CheckPrivate(p.string(), "token file"); !s.ok()) return s;
    auto token = ReadSmallFile(p.string(), "token file");
    if (!token.ok()) return token.status();
    std::string t = *token;
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
    out.token = t;
  }
  return out;
}

}  // namespace

std::string ConfigPath(const char* xdg_config_home, const char* home) {
  if (xdg_config_home != nullptr && *xdg_config_home == '/') {
    return std::string(xdg_config_home) + "/sluice/config.yaml";
  }
  if (home != nullptr && *home != '\0') return std::string(home) + "/.config/sluice/config.yaml";
  return "";
}

StatusOr<ClientSettings> ResolveSettings(const SettingsSources& sources) {
  auto given = [](const std::optional<std::string>& v) { return v && !v->empty(); };
  std::optional<std::string> url = given(sources.flag_url)  ? sources.flag_url
                                   : given(sources.env_url) ? sources.env_url
                                                            : std::nullopt;
  std::optional<std::string> token = sources.flag_token         ? sources.flag_token
                                     : given(sources.env_token) ? sources.env_token
                                                                : std::nullopt;
  if (!url || !token) {
    auto file = ReadConfigFile(sources.config_path);
    if (!file.ok()) return file.status();
    if (!url) url = file->url;
    if (!token) token = file->token;
  }
  ClientSettings s;
  s.url = url ? *url : kDefaultUrl;
  s.token = token ? *token : "";
  if (!s.url.starts_with("http://") && !s.url.starts_with("https://")) {
    return InvalidArgument("url \"" + EchoValue(s.url) + "\": must start with http:// or https://");
  }
  return s;
}

}  // namespace sluice::cli
