{#-
    One row: the instant the monitoring checks evaluate (as_of()) and its business date. Every
    threshold test joins it, so each alert row says when it was evaluated, and so each test has
    two independent parents: dbt build then skips a downstream model after a failing alert only
    if that model depends on both, and morning_summary (which reads the marts) does not read
    this clock: an alert never stops the summary from being rebuilt.
-#}

with

final as (

    select
        {{ as_of() }} as checked_at,
        {{ to_business_date(as_of()) }} as business_date

)

select * from final
