import { initAll } from '/vendor/govuk-frontend/govuk-frontend.min.js'
import './reveal.js'
initAll()
