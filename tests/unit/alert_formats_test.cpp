// asicmon-alert's destinations: the config form (and how it refuses hostile
// input), quiet hours, and each format's body with the fields its receiver's
// public documentation requires (cited in alert/formats.cpp).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "destination_config.h"
#include "formats.h"
#include "testlib.h"

namespace asicmon::alert {
namespace {

using nlohmann::json;

HealthEvent Offline(int n, const std::string& state = "fired") {
  HealthEvent e;
  e.ts = 1796000000.5 + n;
  e.ip = "10.0.0." + std::to_string(n);
  e.model = "Antminer S19 Pro";
  e.worker = "farm.rig" + std::to_string(n);
  e.kind = "offline";
  e.state = state;
  e.severity = "critical";
  e.message = state == "fired" ? "no answer for 3 polls" : "back online";
  return e;
}

Group GroupOf(int count, const std::string& state = "fired") {
  Group g{"offline", state, "critical", {}};
  for (int i = 1; i <= count; ++i) g.events.push_back(Offline(i, state));
  return g;
}

DestinationConfig Config(Format format) {
  DestinationConfig d;
  d.name = "d";
  d.format = format;
  d.url = "http://127.0.0.1:9/hook";
  if (format == Format::kTelegram) {
    d.key = "123:ABC";
    d.chat_id = "-1001234";
  }
  if (format == Format::kPagerDuty) d.routing_key = "R0UT1NGKEY";
  EXPECT_OK(CheckDestination(d));
  return d;
}

json Body(const Message& m) {
  json j = json::parse(m.body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << m.body;
  return j;
}

TEST(AlertQuietHours, SpansAcrossMidnightOrWithinADay) {
  Result<QuietHours> night = QuietHours::Parse("22:00-06:00");
  ASSERT_OK(night);
  EXPECT_TRUE(night->Contains(22 * 60));
  EXPECT_TRUE(night->Contains(0));
  EXPECT_TRUE(night->Contains(5 * 60 + 59));
  EXPECT_FALSE(night->Contains(6 * 60));
  EXPECT_FALSE(night->Contains(21 * 60 + 59));
  Result<QuietHours> lunch = QuietHours::Parse("12:00-13:30");
  ASSERT_OK(lunch);
  EXPECT_TRUE(lunch->Contains(13 * 60 + 29));
  EXPECT_FALSE(lunch->Contains(13 * 60 + 30));
  EXPECT_FALSE(lunch->Contains(11 * 60));
}

TEST(AlertQuietHours, RefusesWhatIsNotARange) {
  for (const char* bad : {"", "22:00", "22-06", "24:00-06:00", "22:60-06:00", "06:00-06:00",
                          "22:00-06:00x", "2200-0600", "aa:bb-cc:dd", "-"}) {
    EXPECT_FALSE(QuietHours::Parse(bad).ok()) << bad;
  }
}

TEST(AlertDestinations, ParsesEachFormatWithItsDefaults) {
  Result<QuietHours> quiet = QuietHours::Parse("22:00-06:00");
  ASSERT_OK(quiet);
  Result<std::vector<DestinationConfig>> d = ParseDestinations(
      R"([{"name":"ops","format":"slack","url":"https://hooks.slack.com/services/T/B/X",
           "min_severity":"warning"},
          {"name":"night","format":"telegram","key":"123:ABC","chat_id":"@farm",
           "quiet_hours":""},
          {"name":"pager","format":"pagerduty","routing_key":"R","min_severity":"critical"},
          {"name":"script","format":"json","url":"http://127.0.0.1/x","key":"k",
           "quiet_hours":"01:00-02:00"}])",
      *quiet);
  ASSERT_OK(d);
  ASSERT_EQ(d->size(), 4u);
  EXPECT_EQ((*d)[0].min_severity, Severity::kWarning);
  EXPECT_TRUE((*d)[0].quiet_hours.has_value());  // ALERT_QUIET_HOURS
  EXPECT_EQ((*d)[1].PostUrl(), "https://api.telegram.org/bot123:ABC/sendMessage");
  EXPECT_FALSE((*d)[1].quiet_hours.has_value());  // "" turns it off
  EXPECT_EQ((*d)[2].url, "https://events.pagerduty.com/v2/enqueue");
  EXPECT_EQ((*d)[2].min_severity, Severity::kCritical);
  EXPECT_EQ((*d)[3].quiet_hours->start_minute, 60);
}

TEST(AlertDestinations, RefusesHostileConfigWithAClearMessage) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", "not a JSON list"},
      {"[]", "empty"},
      {R"({"name":"a"})", "not a JSON list"},
      {R"([1])", "must be an object"},
      {R"([{"name":"a","format":"teams","url":"http://x/"}])", "unknown format"},
      {R"([{"name":"a","format":"json"}])", "needs \"url\""},
      {R"([{"name":"a","format":"json","url":"ftp://x/"}])", "not http"},
      {R"([{"name":"a","format":"telegram","key":"t"}])", "needs \"chat_id\""},
      {R"([{"name":"a","format":"pagerduty"}])", "needs \"routing_key\""},
      {R"([{"name":"a","format":"slack","url":"http://x/","key":"k"}])", "takes no key"},
      {R"([{"name":"a","format":"json","url":"http://x/","min_severity":"loud"}])",
       "unknown severity"},
      {R"([{"name":"a","format":"json","url":"http://x/","quiet_hours":"9-5"}])", "HH:MM"},
      {R"([{"name":"a","format":"json","url":"http://x/","colour":"red"}])", "unknown key"},
      {R"([{"name":"a","format":"json","url":"http://x/","min_severity":2}])", "must be a string"},
      {R"([{"name":"a b","format":"json","url":"http://x/"}])", "name"},
      {R"([{"name":"a","format":"json","url":"http://x/"},
           {"name":"a","format":"json","url":"http://y/"}])",
       "repeats the name"},
  };
  for (const auto& [text, why] : cases) {
    Result<std::vector<DestinationConfig>> d = ParseDestinations(text, std::nullopt);
    ASSERT_FALSE(d.ok()) << text;
    EXPECT_EQ(d.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(d.status().message().find(why), std::string::npos)
        << text << " -> " << d.status().message();
  }
}

TEST(AlertDestinations, AFileOfSecretsMustBeReadableByItsOwnerOnly) {
  const std::filesystem::path path = std::filesystem::path(::testing::TempDir()) /
                                     ("alert_destinations_" + std::to_string(getpid()));
  std::ofstream(path) << R"([{"name":"a","format":"json","url":"http://127.0.0.1/"}])";
  ::chmod(path.c_str(), 0644);
  Result<std::vector<DestinationConfig>> open = LoadDestinations(path.string(), std::nullopt);
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.status().message().find("chmod 600"), std::string::npos);
  ::chmod(path.c_str(), 0600);
  Result<std::vector<DestinationConfig>> closed = LoadDestinations(path.string(), std::nullopt);
  ASSERT_OK(closed);
  EXPECT_EQ(closed->front().name, "a");
  std::filesystem::remove(path);
  EXPECT_FALSE(LoadDestinations(path.string(), std::nullopt).ok());
}

TEST(AlertDestinations, LogsShowNoSecretOfAUrl) {
  EXPECT_EQ(UrlForLog("https://hooks.slack.com/services/T0/B0/secret"), "https://hooks.slack.com");
  EXPECT_EQ(UrlForLog("https://api.telegram.org/bot123:ABC/sendMessage"),
            "https://api.telegram.org");
  EXPECT_EQ(UrlForLog("http://user:pass@127.0.0.1:8080/x"), "http://127.0.0.1:8080");
}

TEST(AlertText, OneEventNamesItsMinerABurstCountsAndNamesTen) {
  EXPECT_EQ(GroupText(GroupOf(1)),
            "[CRITICAL] offline 10.0.0.1 Antminer S19 Pro (farm.rig1): no answer for 3 polls");
  EXPECT_EQ(GroupText(GroupOf(200)),
            "[CRITICAL] 200 miners offline: 10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4, 10.0.0.5, "
            "10.0.0.6, 10.0.0.7, 10.0.0.8, 10.0.0.9, 10.0.0.10 and 190 more");
  EXPECT_EQ(GroupText(GroupOf(2, "cleared")),
            "[CRITICAL] 2 miners offline cleared: 10.0.0.1, 10.0.0.2");
}

TEST(AlertFormats, JsonIsTodaysObjectForOneEventAndAGroupObjectForMany) {
  const std::vector<Message> one = Render(Config(Format::kJson), GroupOf(1));
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(Body(one[0]), HealthEventToJson(Offline(1)));
  EXPECT_EQ(one[0].idempotency_key, "10.0.0.1:4028:offline:fired:1796000001.500");

  const std::vector<Message> many = Render(Config(Format::kJson), GroupOf(200));
  ASSERT_EQ(many.size(), 1u);
  const json body = Body(many[0]);
  EXPECT_EQ(body["kind"], "offline");
  EXPECT_EQ(body["state"], "fired");
  EXPECT_EQ(body["severity"], "critical");
  EXPECT_EQ(body["count"], 200);
  ASSERT_EQ(body["events"].size(), 200u);
  EXPECT_EQ(body["events"][199]["ip"], "10.0.0.200");
  EXPECT_NE(body["text"].get<std::string>().find("and 190 more"), std::string::npos);
  EXPECT_EQ(many[0].idempotency_key, "group:10.0.0.1:4028:offline:fired:1796000001.500:200");
}

TEST(AlertFormats, SlackSendsEscapedTextOnly) {
  Group g = GroupOf(1);
  g.events[0].model = "<!channel> & co";
  const std::vector<Message> m = Render(Config(Format::kSlack), g);
  ASSERT_EQ(m.size(), 1u);
  const json body = Body(m[0]);
  ASSERT_TRUE(body.contains("text"));
  EXPECT_EQ(body.size(), 1u);
  EXPECT_NE(body["text"].get<std::string>().find("&lt;!channel&gt; &amp; co"), std::string::npos);
  EXPECT_TRUE(m[0].idempotency_key.empty());
}

TEST(AlertFormats, TelegramCarriesChatIdAndBoundedText) {
  Group g = GroupOf(1);
  g.events[0].message = std::string(10000, 'x');  // SafeForLog bounds what people read
  const std::vector<Message> m = Render(Config(Format::kTelegram), g);
  ASSERT_EQ(m.size(), 1u);
  const json body = Body(m[0]);
  EXPECT_EQ(body["chat_id"], "-1001234");
  const std::string text = body["text"];
  EXPECT_FALSE(text.empty());
  EXPECT_LE(text.size(), 4096u);
  EXPECT_EQ(Body(Render(Config(Format::kTelegram), GroupOf(200))[0])["text"],
            GroupText(GroupOf(200)));
}

TEST(AlertFormats, PagerDutyOpensOneIncidentPerKindAndResolvesItWithTheLastClear) {
  const DestinationConfig pd = Config(Format::kPagerDuty);
  PagerDutyIncidents incidents;
  // Without a destination's incidents nothing can be said to PagerDuty.
  EXPECT_TRUE(Render(pd, GroupOf(3)).empty());

  const std::vector<Message> fired = Render(pd, GroupOf(3), &incidents);
  ASSERT_EQ(fired.size(), 1u);  // one page for the burst
  const json trigger = Body(fired[0]);
  EXPECT_EQ(trigger["routing_key"], "R0UT1NGKEY");
  EXPECT_EQ(trigger["event_action"], "trigger");
  EXPECT_EQ(trigger["dedup_key"], "asicmon:offline");
  const json& payload = trigger["payload"];
  EXPECT_EQ(payload["summary"], GroupText(GroupOf(3)));
  EXPECT_EQ(payload["source"], "asicmon");
  EXPECT_EQ(payload["severity"], "critical");
  EXPECT_EQ(payload["class"], "offline");
  EXPECT_EQ(payload["custom_details"]["count"], 3);
  EXPECT_EQ(payload["custom_details"]["miners"].size(), 3u);
  EXPECT_EQ(incidents.open("offline"), 3u);

  // One more miner: the same alert, now saying how many in all.
  Group more{"offline", "fired", "critical", {Offline(9)}};
  const json added = Body(Render(pd, more, &incidents)[0]);
  EXPECT_EQ(added["dedup_key"], "asicmon:offline");
  EXPECT_EQ(added["payload"]["source"], "10.0.0.9");
  EXPECT_EQ(added["payload"]["component"], "Antminer S19 Pro");
  EXPECT_NE(added["payload"]["summary"].get<std::string>().find("(4 in all)"), std::string::npos);
  EXPECT_EQ(added["payload"]["custom_details"]["event"]["worker"], "farm.rig9");

  // Clears of some: the incident stays open, nothing is sent.
  EXPECT_TRUE(Render(pd, GroupOf(3, "cleared"), &incidents).empty());
  EXPECT_EQ(incidents.open("offline"), 1u);
  // The last one: resolved, by the key it was opened with.
  const std::vector<Message> last =
      Render(pd, Group{"offline", "cleared", "critical", {Offline(9)}}, &incidents);
  ASSERT_EQ(last.size(), 1u);
  const json resolve = Body(last[0]);
  EXPECT_EQ(resolve["event_action"], "resolve");
  EXPECT_EQ(resolve["dedup_key"], "asicmon:offline");
  EXPECT_EQ(resolve["routing_key"], "R0UT1NGKEY");
  // A clear of a miner not known (fired before a restart): resolve too.
  EXPECT_EQ(Body(Render(pd, GroupOf(1, "cleared"), &incidents)[0])["event_action"], "resolve");
}

TEST(AlertFormats, PagerDutyBoundsItsFieldsAndMapsSeverities) {
  PagerDutyIncidents incidents;
  HealthEvent e = Offline(1);
  e.kind = std::string(400, 'k');
  e.severity = "warning";
  e.message = std::string(5000, 'm');
  const json trigger = Body(Render(Config(Format::kPagerDuty),
                                   Group{e.kind, "fired", "warning", {e}}, &incidents)[0]);
  EXPECT_LE(trigger["dedup_key"].get<std::string>().size(), 255u);
  EXPECT_LE(trigger["payload"]["summary"].get<std::string>().size(), 1024u);
  EXPECT_EQ(trigger["payload"]["severity"], "warning");
  // 500 miners at once: the details list a bounded number, the count all.
  const json many = Body(Render(Config(Format::kPagerDuty), GroupOf(500), &incidents)[0]);
  EXPECT_EQ(many["payload"]["custom_details"]["count"], 500);
  EXPECT_EQ(many["payload"]["custom_details"]["miners"].size(), PagerDutyIncidents::kListedMiners);
}

}  // namespace
}  // namespace asicmon::alert
