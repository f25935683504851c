// FirmwareStore: SQL for the firmware table of migration 4.
#include "storage/firmware_store.hpp"

#include <memory>
#include <string_view>
#include <utility>

namespace fc::storage {
namespace {

constexpr std::string_view kInsert =
    "INSERT INTO firmware (id, product_id, version, name, module, size, md5, sha1, sha256, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
constexpr std::string_view kRemove = "DELETE FROM firmware WHERE id = ?1";
constexpr std::string_view kRemoveAll = "DELETE FROM firmware";
constexpr std::string_view kLoad =
    "SELECT id, product_id, version, name, module, size, md5, sha1, sha256, created_at FROM firmware "
    "ORDER BY created_at, id";

}  // namespace

FirmwareStore::FirmwareStore(Writer& writer) : writer_(writer) {}

std::vector<FirmwareRow> FirmwareStore::load() {
  std::vector<FirmwareRow> rows;
  writer_.read([&rows](Database& db) {
    auto& st = db.cached(kLoad);
    while (st.step()) {
      rows.push_back(FirmwareRow{
          .id = st.columnText(0),
          .productId = st.columnText(1),
          .version = st.columnText(2),
          .name = st.columnText(3),
          .module = st.columnText(4),
          .size = st.columnInt64(5),
          .md5 = st.columnText(6),
          .sha1 = st.columnText(7),
          .sha256 = st.columnText(8),
          .createdAt = st.columnInt64(9),
      });
    }
    st.reset();
  });
  return rows;
}

void FirmwareStore::insert(FirmwareRow row, std::function<void(bool ok)> done) {
  // The op runs in a SAVEPOINT of its batch; a failure there is reported and rolled back alone,
  // so whether it succeeded is told through this flag rather than by the commit.
  auto ok = std::make_shared<bool>(false);
  writer_.submit([row = std::move(row), ok](Database& db) {
    db.cached(kInsert)
        .bind(1, row.id)
        .bind(2, row.productId)
        .bind(3, row.version)
        .bind(4, row.name)
        .bind(5, row.module)
        .bind(6, row.size)
        .bind(7, row.md5)
        .bind(8, row.sha1)
        .bind(9, row.sha256)
        .bind(10, row.createdAt)
        .run();
    *ok = true;
  });
  writer_.whenCommitted([ok, done = std::move(done)] { done(*ok); });
}

void FirmwareStore::remove(std::string id) {
  writer_.submit([id = std::move(id)](Database& db) { db.cached(kRemove).bind(1, id).run(); });
}

void FirmwareStore::removeAll() {
  writer_.submit([](Database& db) { db.cached(kRemoveAll).run(); });
}

void FirmwareStore::whenCommitted(std::function<void()> done) { writer_.whenCommitted(std::move(done)); }

}  // namespace fc::storage
