#pragma once

// What the client prints: tables and aligned fields for people, the API's JSON for scripts.
// Everything the server sent is printed with control characters escaped (a job name or message
// cannot move the cursor or rewrite the terminal); logs are the exception, printed as sent.

#include <rapidjson/document.h>

#include <string>
#include <string_view>
#include <vector>

namespace sluice::cli {

enum class OutputFormat { kHuman, kJson };

// Control characters as \n, \t, \xNN; everything else unchanged.
std::string Printable(std::string_view s);

// Columns separated by two spaces, each as wide as its widest cell; the first row is the header.
// Trailing spaces are trimmed.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);

// An execution as "Name:  value" lines, names aligned; absent fields are left out.
std::string FormatExecution(const rapidjson::Value& execution);

// A list answer's executions as a table: ID, JOB, TYPE, STATUS, CREATED.
std::string FormatExecutionTable(const std::vector<const rapidjson::Value*>& executions);

// A JSON value as compact text, newline-terminated.
std::string JsonText(const rapidjson::Value& value);

}  // namespace sluice::cli
