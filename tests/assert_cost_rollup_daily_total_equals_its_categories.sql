{#-
    Reconciliation: for every day of cost_rollup_daily, the TOTAL row's total_cost_cents and
    cost_event_count equal the sums over the day's category rows, and its video_count lies
    between the largest category's and the sum of the categories' (a video counts once in the
    TOTAL). Returns the days that disagree.
-#}
with

cost_rollup_daily as (

    select
        cost_date,
        cost_category,
        video_count,
        cost_event_count,
        total_cost_cents,
        is_total_row
    from {{ ref('cost_rollup_daily') }}

),

category_sums as (

    select
        cost_date,
        sum(total_cost_cents) as category_cost_cents,
        sum(cost_event_count) as category_event_count,
        sum(video_count) as category_video_count_sum,
        max(video_count) as category_video_count_max
    from cost_rollup_daily
    where not is_total_row
    group by cost_date

),

total_rows as (

    select
        cost_date,
        total_cost_cents,
        cost_event_count,
        video_count
    from cost_rollup_daily
    where is_total_row

),

final as (

    select
        coalesce(total_rows.cost_date, category_sums.cost_date) as cost_date,
        total_rows.total_cost_cents,
        category_sums.category_cost_cents,
        total_rows.cost_event_count,
        category_sums.category_event_count,
        total_rows.video_count
    from total_rows
    full outer join category_sums
        on total_rows.cost_date = category_sums.cost_date
    where
        total_rows.cost_date is null
        or category_sums.cost_date is null
        or total_rows.total_cost_cents != category_sums.category_cost_cents
        or total_rows.cost_event_count != category_sums.category_event_count
        or total_rows.video_count > category_sums.category_video_count_sum
        or total_rows.video_count < category_sums.category_video_count_max

)

select * from final
