// LwM2M paths: text and Uri-Path forms, validation, alternate root paths, ordering.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "protocols/coap/message.hpp"
#include "protocols/lwm2m/path.hpp"

namespace {

namespace coap = fc::coap;
using fc::lwm2m::Path;
using fc::lwm2m::PathError;

TEST(Lwm2mPath, ParsesEveryDepthAndFormatsBack) {
  for (const std::string text : {"/", "/3", "/3/0", "/3/0/1", "/3/0/6/1", "/65535/65535/65535/65535", "/19/0/0"}) {
    auto p = Path::parse(text);
    ASSERT_TRUE(p) << text;
    EXPECT_EQ(p->toString(), text);
  }
  auto p = Path::parse("/5/0/3");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->isResource());
  EXPECT_EQ(p->depth(), 3u);
  EXPECT_EQ(p->objectId(), 5);
  EXPECT_EQ(p->instanceId(), 0);
  EXPECT_EQ(p->resourceId(), 3);
  EXPECT_EQ(*p, Path(5, 0, 3));
  EXPECT_TRUE(Path::parse("/")->isRoot());
  EXPECT_TRUE(Path::parse("/3/0/6/1")->isResourceInstance());
}

TEST(Lwm2mPath, RejectsMalformedText) {
  const struct {
    std::string_view text;
    PathError error;
  } rows[] = {
      {"", PathError::NotAbsolute},       {"3/0", PathError::NotAbsolute},
      {"//", PathError::EmptySegment},    {"/3/", PathError::EmptySegment},
      {"/3//0", PathError::EmptySegment}, {"/a", PathError::NotANumber},
      {"/3/-1", PathError::NotANumber},   {"/3/+1", PathError::NotANumber},
      {"/3/0x1", PathError::NotANumber},  {"/3/ 1", PathError::NotANumber},
      {"/03", PathError::LeadingZero},    {"/3/00", PathError::LeadingZero},
      {"/65536", PathError::OutOfRange},  {"/3/999999999999", PathError::OutOfRange},
      {"/1/2/3/4/5", PathError::TooDeep}, {"/1/2/3/4/5/6/7/8/9", PathError::TooDeep},
  };
  for (const auto& row : rows) {
    auto p = Path::parse(row.text);
    ASSERT_FALSE(p) << row.text;
    EXPECT_EQ(p.error(), row.error) << row.text;
    EXPECT_FALSE(make_error_code(p.error()).message().empty());
  }
}

TEST(Lwm2mPath, FromUriPathOptions) {
  coap::Message m;
  m.setUriPath("19/0/0");
  auto p = Path::fromMessage(m);
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, Path(19, 0, 0));

  coap::Message root;
  EXPECT_TRUE(Path::fromMessage(root)->isRoot());

  coap::Message empty;
  empty.addString(coap::option::kUriPath, "3");
  empty.addString(coap::option::kUriPath, "");
  EXPECT_EQ(Path::fromMessage(empty).error(), PathError::EmptySegment);
}

TEST(Lwm2mPath, AlternateRootPath) {
  coap::Message m;
  m.setUriPath("lwm2m/3/0/1");
  auto p = Path::fromMessage(m, "/lwm2m");
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, Path(3, 0, 1));
  EXPECT_EQ(Path::fromMessage(m, "/other").error(), PathError::OutsideRoot);
  EXPECT_EQ(Path::fromMessage(m, "lwm2m").error(), PathError::BadRootPath);
  EXPECT_EQ(Path::fromMessage(m, "/lwm2m//x").error(), PathError::BadRootPath);
  EXPECT_EQ(Path::fromMessage(m).error(), PathError::NotANumber);

  coap::Message request;
  Path(5, 0, 1).applyTo(request, "/lwm2m");
  EXPECT_EQ(request.uriPath(), "lwm2m/5/0/1");
  Path(5, 0, 1).applyTo(request);
  EXPECT_EQ(request.uriPath(), "5/0/1");
  EXPECT_EQ(Path(3).toSegments("/a/b"), (std::vector<std::string>{"a", "b", "3"}));
}

TEST(Lwm2mPath, ParentContainsAndOrder) {
  const Path resource(3, 0, 1);
  EXPECT_EQ(resource.parent(), Path(3, 0));
  EXPECT_EQ(resource.parent().parent().parent(), Path());
  EXPECT_EQ(Path().parent(), Path());
  EXPECT_TRUE(Path(3).contains(resource));
  EXPECT_TRUE(resource.contains(resource));
  EXPECT_FALSE(resource.contains(Path(3)));
  EXPECT_FALSE(Path(4).contains(resource));
  EXPECT_TRUE(Path().contains(resource));
  EXPECT_LT(Path(3), Path(3, 0));
  EXPECT_LT(Path(3, 0, 9), Path(3, 1));
  EXPECT_LT(Path(), Path(0));
  EXPECT_NE(Path(3, 0), Path(3, 0, 0));
}

}  // namespace
