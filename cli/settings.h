#pragma once

// Where the client finds its server and token: a flag, else the environment, else the user's
// config file, each key on its own.

#include <optional>
#include <string>

#include "common/status.h"

namespace sluice::cli {

inline constexpr const char* kDefaultUrl = "http://127.0.0.1:8080";

struct ClientSettings {
  std::string url;
  std::string token;  // empty: no Authorization header
};

struct SettingsSources {
  std::optional<std::string> flag_url, flag_token;  // --url, --token
  std::optional<std::string> env_url, env_token;    // SLUICE_URL, SLUICE_TOKEN (empty = unset)
  std::string config_path;                          // ConfigPath(); need not exist
};

// $XDG_CONFIG_HOME/sluice/config.yaml, else $HOME/.config/sluice/config.yaml ("" when neither
// is set).
std::string ConfigPath(const char* xdg_config_home, const char* home);

// The file is read only when a flag or the environment leaves a key open. Its keys: `url`,
// `token` or `token_file` (relative to the file's directory). A file that holds a token, and a
// token file, must not be readable by group or others (chmod 600), as ssh requires of keys.
StatusOr<ClientSettings> ResolveSettings(const SettingsSources& sources);

}  // namespace sluice::cli
