// The README's curl examples, run as written against `sluice dev`: the README stays true.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>

#include "tests/integration/harness/harness.h"

namespace sluice::testing {
namespace {

std::string SourceDir() {
  const char* dir = std::getenv("SLUICE_SOURCE_DIR");
  return dir ? dir : ".";
}

struct Block {
  std::string language;
  std::string text;
};

// The fenced code blocks of the README section `heading`, in order.
std::vector<Block> BlocksOfSection(const std::string& heading) {
  std::ifstream in(SourceDir() + "/README.md");
  std::vector<Block> blocks;
  std::string line;
  bool in_section = false, in_block = false;
  Block current;
  while (std::getline(in, line)) {
    if (!in_block && line.rfind("## ", 0) == 0) in_section = line == "## " + heading;
    if (!in_section) continue;
    if (line.rfind("```", 0) == 0) {
      if (in_block) {
        blocks.push_back(current);
        in_block = false;
      } else {
        current = Block{line.substr(3), ""};
        in_block = true;
      }
      continue;
    }
    if (in_block) current.text += line + "\n";
  }
  return blocks;
}

std::string RunShell(const std::string& script, const std::string& dir) {
  std::string path = dir + "/readme.sh";
  std::ofstream(path) << script;
  // Bounded: a README loop that never ends fails the test instead of hanging it.
  std::string cmd = "cd " + dir + " && timeout 180 bash " + path + " 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// Every sh block of `blocks` in order, in one shell in `dir`, with the README's address replaced
// by `listen`; returns each block's output by block index (empty, with a test failure, when a
// block did not finish). `all` gets the whole output.
std::map<size_t, std::string> RunShBlocks(const std::vector<Block>& blocks,
                                          const std::string& listen, const std::string& dir,
                                          std::string* all) {
  std::string script;
  std::vector<size_t> sh_blocks;
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (blocks[i].language != "sh") continue;
    std::string text =
        std::regex_replace(blocks[i].text, std::regex("127\\.0\\.0\\.1:8080"), listen);
    script += text + "\necho; echo '@@END " + std::to_string(i) + "@@'\n";
    sh_blocks.push_back(i);
  }
  *all = RunShell(script, dir);
  std::map<size_t, std::string> output;
  size_t from = 0;
  for (size_t i : sh_blocks) {
    std::string marker = "@@END " + std::to_string(i) + "@@";
    size_t at = all->find(marker, from);
    if (at == std::string::npos) {
      ADD_FAILURE() << "block " << i << " did not finish:\n" << *all;
      return {};
    }
    output[i] = all->substr(from, at - from);
    from = at + marker.size();
  }
  return output;
}

// A section that ends with a refusal documents it as a json block after the command: the last
// command's output holds it verbatim.
void ExpectLastBlockVerbatim(const std::vector<Block>& blocks,
                             const std::map<size_t, std::string>& output) {
  const Block& last = blocks.back();
  ASSERT_EQ(last.language, "json");
  std::string expected = last.text;
  while (!expected.empty() && expected.back() == '\n') expected.pop_back();
  EXPECT_NE(output.rbegin()->second.find(expected), std::string::npos) << output.rbegin()->second;
}

// `sluice dev` on a free loopback port with config/dev.yaml and the token "dev-token".
struct DevServer {
  DevServer() : listen("127.0.0.1:" + std::to_string(FreeLoopbackPort())) {
    setenv("SLUICE_DEV_TOKEN", "dev-token", 1);
    dev = std::make_unique<SluiceProcess>(
        "dev", SourceDir() + "/config/dev.yaml", dir.path(),
        std::vector<std::string>{"--listen", listen, "--data-dir", dir.path() + "/data"});
  }
  TempDir dir;
  std::string listen;
  std::unique_ptr<SluiceProcess> dev;
};

TEST(Readme, GitLabPipelinesWithCurlRunAsDocumented) {
  DevServer server;
  ASSERT_TRUE(server.dev->Start()) << server.dev->Log();
  std::vector<Block> blocks = BlocksOfSection("GitLab pipelines with curl");
  ASSERT_GE(blocks.size(), 7u) << "the README's GitLab section changed; update this test";
  std::string all;
  std::map<size_t, std::string> output =
      RunShBlocks(blocks, server.listen, server.dir.path(), &all);
  ASSERT_FALSE(output.empty());
  EXPECT_NE(all.find("\"source\":\"trigger\""), std::string::npos) << all;
  EXPECT_NE(all.find("\"ref\":\"release/1.2\""), std::string::npos) << "the webhook form:\n" << all;
  EXPECT_NE(all.find("\"name\":\"upload_package\""), std::string::npos) << "the play:\n" << all;
  EXPECT_NE(all.find("uploading to S3 (UPLOAD_TO_S3=yes)"), std::string::npos)
      << "the played job's log:\n"
      << all;
  ExpectLastBlockVerbatim(blocks, output);
  EXPECT_EQ(server.dev->Terminate(), 0) << server.dev->Log();
}

TEST(Readme, WebhooksWithCurlRunAsDocumented) {
  DevServer server;
  ASSERT_TRUE(server.dev->Start()) << server.dev->Log();
  std::vector<Block> blocks = BlocksOfSection("Webhooks from GitHub, GitLab and Gitea");
  ASSERT_GE(blocks.size(), 8u) << "the README's webhooks section changed; update this test";
  std::string all;
  std::map<size_t, std::string> output =
      RunShBlocks(blocks, server.listen, server.dir.path(), &all);
  ASSERT_FALSE(output.empty());
  EXPECT_NE(all.find("\"outcome\":\"triggered\""), std::string::npos) << all;
  EXPECT_NE(all.find("building openshift/assisted-installer release-4.12 at "
                     "a336f38f75f91a876313daacbf097f25dfe21bbf"),
            std::string::npos)
      << "the job's log:\n"
      << all;
  EXPECT_NE(all.find("X-Sluice-Redelivery: true"), std::string::npos) << "redelivery:\n" << all;
  EXPECT_NE(all.find("branch regex: master matches none of"), std::string::npos) << all;
  EXPECT_NE(all.find("\"dry_run\":true,\"signature\":\"valid\""), std::string::npos) << all;
  EXPECT_NE(all.find("\"replay\":1,\"requested_by\":\"dev\""), std::string::npos) << all;
  ExpectLastBlockVerbatim(blocks, output);
  EXPECT_EQ(server.dev->Terminate(), 0) << server.dev->Log();
}

TEST(Readme, CurlExamplesGiveTheDocumentedAnswers) {
  TempDir dir;
  int port = FreeLoopbackPort();
  std::string listen = "127.0.0.1:" + std::to_string(port);
  setenv("SLUICE_DEV_TOKEN", "dev-token", 1);
  SluiceProcess dev("dev", SourceDir() + "/config/dev.yaml", dir.path(),
                    {"--listen", listen, "--data-dir", dir.path() + "/data"});
  ASSERT_TRUE(dev.Start()) << dev.Log();
  EXPECT_NE(dev.Log().find("NOT durable"), std::string::npos) << "the banner must say so";
  EXPECT_NE(dev.Log().find("dev-token"), std::string::npos) << "the banner shows the token";

  std::vector<Block> blocks = BlocksOfSection("Trying it with curl");
  ASSERT_GE(blocks.size(), 8u) << "the README's curl section changed; update this test";

  std::string out;
  std::map<size_t, std::string> output = RunShBlocks(blocks, listen, dir.path(), &out);
  ASSERT_FALSE(output.empty()) << out;

  auto json_lines = [](const std::string& text) {
    std::vector<rapidjson::Document> docs;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] != '{') continue;
      docs.emplace_back();
      docs.back().Parse(line.c_str());
    }
    return docs;
  };

  for (const auto& [i, block_output] : output) {
    const std::string& text = blocks[i].text;
    auto docs = json_lines(output[i]);
    bool documented_error = i + 1 < blocks.size() && blocks[i + 1].language == "json" &&
                            blocks[i + 1].text.find("\"code\"") != std::string::npos;
    if (documented_error) {
      // An error answer is documented verbatim.
      std::string expected = blocks[i + 1].text;
      while (!expected.empty() && expected.back() == '\n') expected.pop_back();
      EXPECT_NE(output[i].find(expected), std::string::npos)
          << "README block " << i << " answered:\n"
          << output[i] << "\ndocumented:\n"
          << expected;
      continue;
    }
    if (text.find("-X POST") != std::string::npos && text.find("/abort") == std::string::npos &&
        text.find("$(curl") == std::string::npos) {
      ASSERT_FALSE(docs.empty()) << "block " << i << ":\n" << output[i];
      for (auto& d : docs) {
        ASSERT_TRUE(d.IsObject() && d.HasMember("job_status")) << output[i];
        EXPECT_STREQ(d["job_status"].GetString(), "TRIGGERED") << output[i];
      }
    }
  }

  // The status query, log, list and abort blocks: find the ids the shell made and check the end.
  HttpClient http;
  std::string base = "http://" + listen;
  std::smatch m;
  std::string all = out;
  std::regex id_re("\"id\":\"([0-9a-f-]{36})\",\"job_name\":\"periodic-slow\"");
  ASSERT_TRUE(std::regex_search(all, m, id_re)) << "the abort example printed no execution:\n"
                                                << out;
  std::string slow_id = m[1];
  EXPECT_TRUE(WaitFor([&] {
    auto r = http.Get(base + "/v1/executions/" + slow_id, "dev-token");
    return r.body.find("\"job_status\":\"ABORTED\"") != std::string::npos;
  })) << "the aborted example did not end ABORTED";

  // Every periodic-to-trigger execution reaches SUCCESS, and its log shows the image it used.
  auto list = http.Get(base + "/v1/executions?job_name=periodic-to-trigger", "dev-token");
  ASSERT_EQ(list.status, 200);
  auto doc = list.Json();
  ASSERT_TRUE(doc.IsObject() && doc["job_execution"].IsArray());
  ASSERT_GE(doc["job_execution"].Size(), 4u);
  bool saw_override = false;
  for (auto& e : doc["job_execution"].GetArray()) {
    std::string id = e["id"].GetString();
    EXPECT_TRUE(WaitFor([&] {
      auto r = http.Get(base + "/v1/executions/" + id, "dev-token");
      return r.body.find("\"job_status\":\"SUCCESS\"") != std::string::npos;
    })) << id;
    auto log = http.Get(base + "/v1/executions/" + id + "/log", "dev-token");
    EXPECT_NE(log.body.find("using quay.io/openshift-release-dev/ocp-release:4.18."),
              std::string::npos)
        << log.body;
    saw_override = saw_override || log.body.find("4.18.8-x86_64") != std::string::npos;
  }
  EXPECT_TRUE(saw_override) << "the env override example did not reach the job";
  EXPECT_EQ(dev.Terminate(), 0) << dev.Log();
}

}  // namespace
}  // namespace sluice::testing
