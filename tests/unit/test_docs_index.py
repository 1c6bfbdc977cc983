"""The offline front page of a run's Data Docs links each result to its own GX pages (not another result's of the
same suite), with hrefs quoted as URLs. GX's layout of those pages is checked on a real run in
tests/data/test_expectations.py (every link of the front page is a page GX wrote)."""

from types import SimpleNamespace

from components.data.docs_index import write_front_page


def test_each_result_links_its_own_pages(tmp_path):
    stats = {"evaluated_expectations": 3, "successful_expectations": 3, "unsuccessful_expectations": 0}
    older = ("raw", "raw run #1", "20250101T000000.000000Z", "batch a")  # GX's key: suite, run name, time, batch
    newer = ("raw", "raw run #1", "20250102T000000.000000Z", "batch b")
    for key in (older, newer):  # two results of one suite in one Data Docs folder
        page = tmp_path / "validations" / "/".join(key)
        page.parent.mkdir(parents=True)
        page.with_suffix(".html").write_text("<html></html>")
    (tmp_path / "expectations").mkdir()
    (tmp_path / "expectations/raw.html").write_text("<html></html>")
    result = SimpleNamespace(suite_name="raw", success=True, statistics=stats)
    front = write_front_page(tmp_path, [result], [(older, ("raw",))]).read_text()
    assert 'href="validations/raw/raw%20run%20%231/20250101T000000.000000Z/batch%20a.html"' in front
    assert "20250102" not in front and 'href="expectations/raw.html"' in front
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["keel_index.html"]  # no temporary left beside it
