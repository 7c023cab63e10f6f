# Reference concentrations of the tacrolimus model (docs/tacrolimus.md), solved with
# deSolve's lsoda: one compartment with first-order absorption, CL/F times the relative
# enzyme amount E, dE/dt = k_enzyme * (1 + e_max * S(t) - E), S = 1 on a dexamethasone
# course day. Doses (times F of their occasion) are added to the gut compartment.
# Run: Rscript tests/reference/make_tacrolimus.R  (writes tacrolimus_reference.json)
suppressMessages({library(deSolve); library(jsonlite)})

rhs <- function(t, y, p) {
  list(c(-p$ka * y[1],
         p$ka * y[1] - p$cl * y[3] / p$v * y[2],
         p$k_enzyme * (1 + p$e_max * p$on - y[3])))
}

solve_patient <- function(p, dose_times, amounts, f_dose, dex_days, samples) {
  days_end <- 24 * length(dex_days)
  breaks <- sort(unique(c(0, seq(24, days_end, by = 24), dose_times, max(samples))))
  breaks <- breaks[breaks <= max(samples)]
  y <- c(gut = 0, central = 0, enzyme = 1)
  out <- rep(NA_real_, length(samples))
  for (i in seq_along(breaks)) {
    t0 <- breaks[i]
    hit <- which(samples == t0)            # a sample at a dose time is pre-dose
    out[hit] <- y[["central"]] / p$v * 1000
    d <- which(dose_times == t0)
    if (length(d)) y[["gut"]] <- y[["gut"]] + sum(amounts[d] * f_dose[d])
    if (i == length(breaks)) break
    t1 <- breaks[i + 1]
    p$on <- dex_days[floor(t0 / 24) + 1]
    inside <- samples[samples > t0 & samples < t1]
    sol <- lsoda(y, c(t0, inside, t1), rhs, p, rtol = 1e-11, atol = 1e-14)
    if (length(inside)) {
      for (s in inside) out[samples == s] <- sol[sol[, 1] == s, "central"] / p$v * 1000
    }
    y <- sol[nrow(sol), c("gut", "central", "enzyme")]
  }
  out
}

k_enzyme <- log(2) / 36
cases <- list()
add_case <- function(name, cl, v, ka, e_max, daily_mg, f_week, dex_days, missed, samples) {
  days <- length(dex_days)
  dose_times <- as.vector(t(outer((0:(days - 1)) * 24, c(8, 20), "+")))
  amounts <- rep(daily_mg / 2, length(dose_times))
  amounts[missed] <- 0
  f_dose <- f_week[floor(dose_times / (24 * 7)) + 1]
  p <- list(cl = cl, v = v, ka = ka, k_enzyme = k_enzyme, e_max = e_max)
  conc <- solve_patient(p, dose_times, amounts, f_dose, dex_days, samples)
  cases[[name]] <<- list(cl = cl, v = v, ka = ka, e_max = e_max, k_enzyme = k_enzyme,
                         dose_times_h = dose_times, amounts_mg = amounts, f_week = f_week,
                         dex_days = as.integer(dex_days), samples_h = samples,
                         concentration_ng_ml = conc)
}

troughs <- (1:20) * 24 + 8                # every morning, before the dose
within <- c(8.5, 9, 10, 14, 20, 30.25, 200.5, 340.75)
dex <- c(rep(1, 4), rep(0, 10), rep(1, 4), rep(0, 3))  # two 4-day courses, days 0-3 and 14-17
add_case("typical_60kg_non_expresser", 18.885, 352.29, 5.21, 0.575, 1.8,
         c(1, 1, 1), dex, integer(0), sort(c(troughs, within)))
add_case("expresser_irregular_f_missed_dose", 41.2, 480, 2.0, 1.2, 3.0,
         c(1.3, 0.8, 1.1), dex, c(11L, 24L), sort(c(troughs, within)))
add_case("slow_absorption_no_dex", 9.5, 250, 0.35, 0.575, 1.0,
         c(0.9, 1.0, 1.2), rep(0, 21), integer(0), sort(c(troughs, within)))

write_json(list(generated_by = "tests/reference/make_tacrolimus.R",
                r_version = R.version.string,
                desolve_version = as.character(packageVersion("deSolve")),
                cases = cases),
           "tests/reference/tacrolimus_reference.json", digits = 15, auto_unbox = TRUE,
           pretty = TRUE)
