// The dashboard's files as the gateway serves them: GET / and /ui/<file>, compiled in.

#include "gateway/dashboard.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

#include "gateway/dashboard_files.h"

namespace sluice {
namespace {

std::string Header(const ApiReply& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

void ExpectLockedDown(const ApiReply& r) {
  EXPECT_EQ(Header(r, "Content-Security-Policy"), kDashboardContentSecurityPolicy);
  EXPECT_EQ(Header(r, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(Header(r, "Referrer-Policy"), "no-referrer");
}

TEST(DashboardTest, ThePolicyAllowsOnlyThisOriginAndNoInlineScript) {
  std::string policy = kDashboardContentSecurityPolicy;
  EXPECT_NE(policy.find("default-src 'none'"), std::string::npos);
  EXPECT_NE(policy.find("script-src 'self';"), std::string::npos);
  EXPECT_NE(policy.find("connect-src 'self';"), std::string::npos);
  EXPECT_NE(policy.find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(policy.find("unsafe"), std::string::npos) << "no unsafe-inline, no unsafe-eval";
  EXPECT_EQ(policy.find("http"), std::string::npos) << "no other origin";
}

TEST(DashboardTest, ThePageAndEveryFileAreServedWithTheirTypeAndThePolicy) {
  ASSERT_GT(kDashboardFileCount, 0u) << "gateway/dashboard/ was not compiled in";
  ApiReply index = DashboardFileReply("index.html", "");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  ExpectLockedDown(index);
  for (size_t i = 0; i < kDashboardFileCount; ++i) {
    const DashboardFile& f = kDashboardFiles[i];
    SCOPED_TRACE(f.path);
    ApiReply r = DashboardFileReply(f.path, "");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, std::string(f.bytes, f.size));
    EXPECT_NE(r.content_type, "application/octet-stream") << "a file of no known type";
    ExpectLockedDown(r);
    if (std::string(f.path).ends_with(".js")) {
      EXPECT_EQ(r.content_type, "text/javascript; charset=utf-8") << "modules need a JS type";
    }
  }
}

TEST(DashboardTest, AnUnchangedFileIsNotSentAgain) {
  ASSERT_GT(kDashboardFileCount, 0u);
  const DashboardFile& f = kDashboardFiles[0];
  std::string etag = Header(DashboardFileReply(f.path, ""), "ETag");
  ASSERT_EQ(etag.size(), 34u) << etag;
  ApiReply again = DashboardFileReply(f.path, etag);
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(DashboardFileReply(f.path, "W/" + etag).status, 304);
  EXPECT_EQ(DashboardFileReply(f.path, "\"other\", " + etag).status, 304);
  EXPECT_EQ(DashboardFileReply(f.path, "\"other\"").status, 200);
}

std::string Gunzip(const std::string& gz) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  inflateEnd(&z);
  return out;
}

TEST(DashboardTest, ABrowserThatTakesGzipGetsTheSameBytesSmaller) {
  ApiReply plain = DashboardFileReply("index.html", "", "");
  ApiReply gz = DashboardFileReply("index.html", "", "gzip, deflate, br");
  ASSERT_EQ(gz.status, 200);
  EXPECT_EQ(Header(gz, "Content-Encoding"), "gzip");
  EXPECT_EQ(Header(gz, "Vary"), "Accept-Encoding");
  EXPECT_LT(gz.body.size(), plain.body.size());
  EXPECT_EQ(Gunzip(gz.body), plain.body);
  EXPECT_EQ(Header(plain, "Content-Encoding"), "");
  EXPECT_NE(Header(gz, "ETag"), Header(plain, "ETag")) << "two representations, two tags";
  EXPECT_EQ(DashboardFileReply("index.html", Header(gz, "ETag"), "gzip").status, 304);
  EXPECT_EQ(DashboardFileReply("index.html", Header(gz, "ETag"), "").status, 200);
  for (const char* refuses : {"identity", "gzip;q=0", "br, gzip; q=0.000", "deflate"}) {
    SCOPED_TRACE(refuses);
    EXPECT_EQ(Header(DashboardFileReply("index.html", "", refuses), "Content-Encoding"), "");
  }
  for (const char* takes : {"gzip;q=0.5", "*", "x-gzip", "br;q=1, gzip;q=0.1"}) {
    SCOPED_TRACE(takes);
    EXPECT_EQ(Header(DashboardFileReply("index.html", "", takes), "Content-Encoding"), "gzip");
  }
}

TEST(DashboardTest, ANameThatIsNoFileIsA404InTheErrorFormat) {
  for (const char* path : {"nope.js", "../CMakeLists.txt", "%2e%2e/x", "", "index.html/x"}) {
    SCOPED_TRACE(path);
    ApiReply r = DashboardFileReply(path, "");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_NE(r.body.find("\"code\":5"), std::string::npos) << r.body;
    ExpectLockedDown(r);
  }
}

}  // namespace
}  // namespace sluice
