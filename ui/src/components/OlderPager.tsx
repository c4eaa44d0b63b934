/** The "Older →" button under a list read page by page (an infinite query). */
export function OlderPager({
  pages,
}: {
  pages: { hasNextPage: boolean; isFetchingNextPage: boolean; fetchNextPage: () => Promise<unknown> };
}) {
  return (
    <div className="pager">
      {pages.hasNextPage && (
        <button onClick={() => void pages.fetchNextPage()} disabled={pages.isFetchingNextPage}>
          Older →
        </button>
      )}
    </div>
  );
}
